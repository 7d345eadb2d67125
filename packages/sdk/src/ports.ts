import { PortAccess, type PortAccess as PortAccessBody, type PortInfo, PortList } from '@paddock/protocol';
import { type Connection, checked } from './connection.js';

/** Options of the port calls. */
export interface PortCallOptions {
  signal?: AbortSignal;
  /** How long to wait for the server to answer. */
  requestTimeoutMs?: number;
}

/** Options of {@link Ports.url} and {@link Ports.access}. */
export interface PortUrlOptions extends PortCallOptions {
  /** How long the URL's token stays valid; default 1 hour, at most the server's maximum (7 days). */
  expiresInMs?: number;
}

/**
 * The sandbox's TCP ports as seen from outside: every port something listens on inside is
 * reachable through the server at `http://{port}-{id}.{domain}`, with a token scoped to that
 * port that expires, or without one once made public.
 *
 * @example
 * ```ts
 * await sbx.commands.run('python3 -m http.server 3000', { background: true })
 * const url = await sbx.ports.url(3000, { expiresInMs: 3_600_000 }) // open it in a browser
 * await sbx.ports.setPublic(3000, true)                            // no token needed any more
 * ```
 */
export class Ports {
  /** @internal */
  constructor(
    private readonly conn: Connection,
    private readonly sandboxId: string,
  ) {}

  /** A preview URL (`http://{port}-{id}.{domain}/?paddock_token=…`) that opens `port` until it expires. */
  async url(port: number, opts: PortUrlOptions = {}): Promise<string> {
    return (await this.access(port, opts)).url;
  }

  /**
   * Like {@link Ports.url}, with everything else: the token, its expiry, the Host, and the
   * headers for clients that cannot use wildcard hosts (send them to the server's own URL).
   */
  async access(port: number, opts: PortUrlOptions = {}): Promise<PortAccessBody> {
    const body = await this.conn.json('POST', `${this.base()}/${port}/url`, {
      json: opts.expiresInMs === undefined ? {} : { expiresInMs: opts.expiresInMs },
      signal: opts.signal,
      requestTimeoutMs: opts.requestTimeoutMs,
    });
    return checked((v) => PortAccess.safeParse(v), body);
  }

  /** Makes `port` reachable without a token (`true`), or needing one again (`false`). Survives restarts. */
  async setPublic(port: number, isPublic: boolean, opts: PortCallOptions = {}): Promise<void> {
    await this.conn.json('PUT', `${this.base()}/${port}`, {
      json: { public: isPublic },
      signal: opts.signal,
      requestTimeoutMs: opts.requestTimeoutMs,
    });
  }

  /** The ports listening inside the sandbox (and the public ones), each with its `public` flag. */
  async list(opts: PortCallOptions = {}): Promise<PortInfo[]> {
    const body = await this.conn.json('GET', this.base(), {
      signal: opts.signal,
      requestTimeoutMs: opts.requestTimeoutMs,
    });
    return checked((v) => PortList.safeParse(v), body).ports;
  }

  /**
   * The Host that routes to `port`: `{port}-{id}.{domain}`. The domain is `PADDOCK_DOMAIN`
   * when set, else the server's own host (`localhost:<port>` for a loopback server).
   */
  host(port: number): string {
    return `${port}-${this.sandboxId}.${domainOf(this.conn.apiUrl)}`;
  }

  private base(): string {
    return `/v1/sandboxes/${encodeURIComponent(this.sandboxId)}/ports`;
  }
}

function domainOf(apiUrl: string): string {
  const configured = process.env.PADDOCK_DOMAIN;
  if (configured) return configured;
  const url = new URL(apiUrl);
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return loopback ? `localhost:${port}` : url.host;
}
