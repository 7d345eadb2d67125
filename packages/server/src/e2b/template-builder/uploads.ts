import { createHmac, timingSafeEqual } from 'node:crypto';
import type { BuildContext } from '../../templates/plan.js';

/** How long an upload URL is good for: the SDK uploads right after asking. */
const URL_TTL_MS = 60 * 60 * 1000;

/**
 * Uploaded COPY files by `filesHash`, in memory and bounded (least recently used go first), and
 * the tokens of their upload URLs. The SDK sends the upload without our API key, so the URL's
 * token is the credential: HMAC(server secret, hash and expiry), good for that hash only.
 */
export class TemplateUploads {
  private readonly files = new Map<string, { context: BuildContext; bytes: number }>();
  private totalBytes = 0;

  constructor(private readonly options: { secret: Buffer; maxTotalBytes: number; now?: () => number }) {}

  get(hash: string): BuildContext | undefined {
    const entry = this.files.get(hash);
    if (!entry) return undefined;
    // Touch: a Map iterates in insertion order, so re-inserting makes this the newest.
    this.files.delete(hash);
    this.files.set(hash, entry);
    return entry.context;
  }

  put(hash: string, context: BuildContext): void {
    let bytes = 0;
    for (const f of context.values()) bytes += f.data.byteLength;
    this.drop(hash);
    this.files.set(hash, { context, bytes });
    this.totalBytes += bytes;
    for (const oldest of this.files.keys()) {
      if (this.totalBytes <= this.options.maxTotalBytes || oldest === hash) break;
      this.drop(oldest);
    }
  }

  /** The `token` query value of a fresh upload URL for `hash`. */
  tokenFor(hash: string): string {
    const expiresMs = this.now() + URL_TTL_MS;
    return `${expiresMs}.${this.mac(hash, expiresMs)}`;
  }

  verify(hash: string, token: string | null): boolean {
    const [expires, mac] = (token ?? '').split('.');
    const expiresMs = Number(expires);
    if (!mac || !Number.isSafeInteger(expiresMs) || expiresMs < this.now()) return false;
    const [a, b] = [Buffer.from(mac), Buffer.from(this.mac(hash, expiresMs))];
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private mac(hash: string, expiresMs: number): string {
    return createHmac('sha256', this.options.secret).update(`e2b-upload:${hash}:${expiresMs}`).digest('hex');
  }

  private drop(hash: string): void {
    const entry = this.files.get(hash);
    if (!entry) return;
    this.files.delete(hash);
    this.totalBytes -= entry.bytes;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}
