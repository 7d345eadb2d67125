import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Store } from '../core/seams/store.js';
import { serverSecretBytes } from '../store/server-secret.js';

/**
 * The per-sandbox `envdAccessToken` of the E2B facade: HMAC(server secret, sandbox id). Derived,
 * not stored, so every sandbox has one (ours or created through /v1) and it survives restarts
 * because the secret lives in the store.
 */
export class EnvdAccessTokens {
  private readonly secret: Buffer;

  constructor(store: Store) {
    this.secret = serverSecretBytes(store, 'e2b-envd-access-token');
  }

  tokenOf(sandboxId: string): string {
    return createHmac('sha256', this.secret).update(sandboxId).digest('hex');
  }

  /** Constant-time check of an `X-Access-Token` header against a sandbox's token. */
  verify(sandboxId: string, token: string | undefined): boolean {
    return token !== undefined && sameSecret(token, this.tokenOf(sandboxId));
  }

  /**
   * The sandbox's `trafficAccessToken`: what the E2B SDKs send (as `E2B-Traffic-Access-Token`)
   * on the code interpreter's `/contexts` calls, which carry no access token. A separate HMAC
   * (`traffic:` cannot start a sandbox id), so it opens those calls and nothing of envd's.
   */
  trafficTokenOf(sandboxId: string): string {
    return createHmac('sha256', this.secret).update(`traffic:${sandboxId}`).digest('hex');
  }

  /** Constant-time check of an `E2B-Traffic-Access-Token` header against a sandbox's traffic token. */
  verifyTraffic(sandboxId: string, token: string | undefined): boolean {
    return token !== undefined && sameSecret(token, this.trafficTokenOf(sandboxId));
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** What a signed `/files` URL asks for (docs/e2b-protocol.md §3.6). */
export interface FileSignature {
  path: string;
  operation: 'read' | 'write';
  /** Empty when the URL names no user. */
  username: string;
  signature: string;
  /** Unix seconds, when the URL expires. */
  expirationS: number | undefined;
}

/** The SDK's recipe: `v1_` + unpadded base64 of SHA-256 over `path:operation:username:token[:expiration]`. */
export function signFile(sig: Omit<FileSignature, 'signature'>, token: string): string {
  const parts = [sig.path, sig.operation, sig.username, token];
  if (sig.expirationS !== undefined) parts.push(String(sig.expirationS));
  return `v1_${createHash('sha256').update(parts.join(':')).digest('base64').replace(/=+$/, '')}`;
}

/** True when the signature was made with `token` and has not expired at `nowMs`. */
export function signatureValid(sig: FileSignature, token: string, nowMs: number): boolean {
  if (sig.expirationS !== undefined && sig.expirationS * 1000 < nowMs) return false;
  const expected = Buffer.from(signFile(sig, token));
  const given = Buffer.from(sig.signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
