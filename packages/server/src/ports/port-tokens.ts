import { createHmac, timingSafeEqual } from 'node:crypto';
import { PaddockError } from '@paddock/protocol';

/** What a port token grants: one port of one sandbox until `expiresAtMs`. */
export interface PortGrant {
  sandboxId: string;
  port: number;
  expiresAtMs: number;
}

const PREFIX = 'pt_';

/**
 * Stateless, signed port tokens: `pt_<base64url(json {s,p,e})>.<base64url HMAC-SHA256>`.
 * Nothing is stored per token, so minting costs no write and a token stays valid across a
 * server restart as long as the secret (kept in SQLite) does. Revoking one token early is
 * not possible; keep lifetimes short, or make the port public and back.
 *
 * @example
 * ```ts
 * const tokens = new PortTokens(secret);
 * const token = tokens.mint({ sandboxId, port: 3000, expiresAtMs: Date.now() + 3_600_000 });
 * tokens.check(token, { sandboxId, port: 3000 }, Date.now()); // throws unless it opens that port
 * ```
 */
export class PortTokens {
  constructor(private readonly secret: Buffer) {}

  mint(grant: PortGrant): string {
    const payload = Buffer.from(JSON.stringify({ s: grant.sandboxId, p: grant.port, e: grant.expiresAtMs })).toString(
      'base64url',
    );
    return `${PREFIX}${payload}.${this.sign(payload)}`;
  }

  /**
   * The grant of a token that opens `target` at `nowMs`. Throws UNAUTHENTICATED for a
   * malformed, tampered or expired token, PERMISSION_DENIED for one of another port or
   * sandbox (naming the port it is for).
   */
  check(token: string, target: { sandboxId: string; port: number }, nowMs: number): PortGrant {
    const grant = this.verify(token);
    if (grant.expiresAtMs <= nowMs) {
      throw new PaddockError(
        'UNAUTHENTICATED',
        `the port token expired at ${new Date(grant.expiresAtMs).toISOString()}: ask for a new URL (POST /v1/sandboxes/${target.sandboxId}/ports/${target.port}/url)`,
        { expiredAt: new Date(grant.expiresAtMs).toISOString() },
      );
    }
    if (grant.sandboxId !== target.sandboxId || grant.port !== target.port) {
      const sameSandbox = grant.sandboxId === target.sandboxId;
      throw new PaddockError(
        'PERMISSION_DENIED',
        `this token opens port ${grant.port} of ${sameSandbox ? 'this sandbox' : `sandbox ${grant.sandboxId}`}, not port ${target.port} of sandbox ${target.sandboxId}: ask for a URL for port ${target.port}`,
        { tokenPort: grant.port, tokenSandboxId: grant.sandboxId },
      );
    }
    return grant;
  }

  /** The grant a correctly signed token carries, expired or not. */
  private verify(token: string): PortGrant {
    const invalid = () =>
      new PaddockError(
        'UNAUTHENTICATED',
        'the port token is not valid (malformed or not signed by this server): ask for a new URL with POST /v1/sandboxes/ID/ports/PORT/url',
      );
    if (!token.startsWith(PREFIX)) throw invalid();
    const [payload, signature, extra] = token.slice(PREFIX.length).split('.');
    if (payload === undefined || signature === undefined || extra !== undefined) throw invalid();
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
    let fields: unknown;
    try {
      fields = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw invalid();
    }
    const { s, p, e } = (fields ?? {}) as { s?: unknown; p?: unknown; e?: unknown };
    if (typeof s !== 'string' || typeof p !== 'number' || typeof e !== 'number') throw invalid();
    return { sandboxId: s, port: p, expiresAtMs: e };
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }
}
