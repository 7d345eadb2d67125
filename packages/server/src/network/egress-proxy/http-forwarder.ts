import * as http from 'node:http';
import * as https from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type SecureContext, connect as tlsConnect } from 'node:tls';
import type { Logger } from '../../core/logger.js';
import type { SecretRule } from '../../core/seams/store.js';
import { secretsFor, substituteHeaders } from '../../secrets/placeholder-substitution.js';
import type { EgressPolicyOracle } from '../egress-contract.js';
import { parseHostHeader } from './http-head.js';
import { allowedAddresses, checkedLookup, EgressRefused, type ResolveHost } from './upstream-resolve.js';

/** How a sandbox connection reached the forwarder. */
export interface ConnectionOrigin {
  /** The port the sandbox connected to; requests go out to the same port. */
  port: number;
  /** Set when TLS was terminated by the proxy: the SNI, which every request's Host must match. */
  tlsName?: string;
}

export interface HttpForwarderDeps {
  sandboxId: string;
  oracle: EgressPolicyOracle;
  resolve: ResolveHost;
  /** The sandbox's secrets as they are now. */
  secrets: () => readonly SecretRule[];
  /** Trust for upstream TLS servers (built once: parsing the CA list per connection costs ~10 ms). */
  upstreamTls: SecureContext;
  /** How long an idle keep-alive connection from the sandbox stays open. */
  keepAliveTimeoutMs: number;
  logger: Logger;
}

/** Headers that describe one hop, not the request: never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

function endToEnd(headers: http.IncomingHttpHeaders): http.IncomingHttpHeaders {
  const out: http.IncomingHttpHeaders = {};
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase()),
  );
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name) && !named.has(name)) out[name] = value;
  }
  return out;
}

function endToEndRaw(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, raw[i + 1] as string);
  }
  return out;
}

/** `http://host/path?q` (absolute form, as sent to proxies) → `/path?q`. */
function originForm(url: string | undefined): string {
  if (!url) return '/';
  if (url.startsWith('/')) return url;
  try {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return '/';
  }
}

/**
 * The request-level half of the egress proxy, for one sandbox: plain HTTP always comes here
 * (so each request's Host is checked, not just the first one's on a keep-alive connection),
 * and so do TLS connections to secret hosts once the proxy has terminated them. Each request
 * is checked against the policy, its placeholders are replaced in header values for the hosts
 * its secrets name, and it is sent on over a per-sandbox keep-alive pool; bodies stream.
 */
export class HttpForwarder {
  private readonly server: http.Server;
  private readonly origins = new WeakMap<object, ConnectionOrigin>();
  private readonly plainAgent = new http.Agent({ keepAlive: true });
  private readonly tlsAgent: https.Agent;

  constructor(private readonly deps: HttpForwarderDeps) {
    this.tlsAgent = new https.Agent({ keepAlive: true, secureContext: deps.upstreamTls });
    this.server = http.createServer({ keepAliveTimeout: deps.keepAliveTimeoutMs });
    // A sandbox's requests may legitimately be slow (long polls, uploads); the policy, not a timer, bounds them.
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 60_000;
    this.server.on('request', (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(req, socket, head),
    );
    this.server.on('clientError', (_err, socket: Duplex) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  /** Serves HTTP/1.x read from `stream`, a sandbox connection (plain, or decrypted TLS). */
  serve(stream: Duplex, origin: ConnectionOrigin): void {
    this.origins.set(stream, origin);
    this.server.emit('connection', stream);
  }

  close(): void {
    this.plainAgent.destroy();
    this.tlsAgent.destroy();
    this.server.close();
  }

  /** The checked target of a request, or a refusal already sent to the sandbox. */
  private target(
    req: http.IncomingMessage,
  ): { host: string; origin: ConnectionOrigin } | { status: number; message: string } {
    const origin = this.origins.get(req.socket);
    if (!origin) return { status: 500, message: 'connection of unknown origin' };
    const parsed = parseHostHeader(req.headers.host);
    if (!parsed) {
      this.refused('(no host)', origin.port, 'the request has no valid Host header');
      return { status: 400, message: 'Paddock egress proxy: the request needs a valid Host header\n' };
    }
    if (origin.tlsName !== undefined && parsed.host !== origin.tlsName) {
      this.refused(parsed.host, origin.port, `Host differs from the TLS server name ${origin.tlsName}`);
      return {
        status: 421,
        message: `Paddock egress proxy: Host ${parsed.host} does not match the TLS server name ${origin.tlsName}\n`,
      };
    }
    const verdict = this.deps.oracle.checkName(this.deps.sandboxId, parsed.host, origin.port);
    if (!verdict.allowed) {
      this.refused(parsed.host, origin.port, verdict.reason);
      return {
        status: 403,
        message: `Paddock egress proxy: ${parsed.host}:${origin.port} is not allowed (${verdict.reason})\n`,
      };
    }
    return { host: parsed.host, origin };
  }

  private refused(target: string, port: number, reason: string): void {
    this.deps.oracle.recordDenied(this.deps.sandboxId, {
      at: new Date().toISOString(),
      layer: 'proxy',
      target,
      port,
      reason,
    });
  }

  /** Headers with the placeholders of the secrets this request may carry (over TLS, or allowed in cleartext). */
  private headersFor(
    host: string,
    origin: ConnectionOrigin,
    headers: http.IncomingHttpHeaders,
  ): http.OutgoingHttpHeaders {
    const channel = { tls: origin.tlsName !== undefined };
    return substituteHeaders(headers, secretsFor(host, this.deps.secrets(), channel)).headers;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const target = this.target(req);
    if ('status' in target) {
      res.writeHead(target.status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end(target.message);
      req.resume();
      return;
    }
    const { host, origin } = target;
    const secure = origin.tlsName !== undefined;
    const options: https.RequestOptions = {
      host,
      port: origin.port,
      method: req.method ?? 'GET',
      path: originForm(req.url),
      headers: this.headersFor(host, origin, endToEnd(req.headers)),
      agent: secure ? this.tlsAgent : this.plainAgent,
      lookup: checkedLookup(this.deps, origin.port),
      ...(secure ? { servername: host } : {}),
    };
    const upstream = (secure ? https : http).request(options);
    upstream.on('response', (response) => {
      res.writeHead(response.statusCode ?? 502, response.statusMessage, endToEndRaw(response.rawHeaders));
      response.pipe(res);
      response.on('error', () => res.destroy());
    });
    upstream.on('error', (err) => {
      if (err instanceof EgressRefused) this.refused(err.target, err.port, err.reason);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const status = err instanceof EgressRefused ? 403 : 502;
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end(
        `Paddock egress proxy: ${host}:${origin.port}: ${err instanceof EgressRefused ? err.reason : err.message}\n`,
      );
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  /** WebSocket and other upgrades: checked like a request, then spliced to a fresh upstream connection. */
  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const target = this.target(req);
    if ('status' in target) {
      socket.end(
        `HTTP/1.1 ${target.status} Refused\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${target.message}`,
      );
      return;
    }
    const { host, origin } = target;
    socket.on('error', () => socket.destroy());
    allowedAddresses(this.deps, host, origin.port).then(
      (addresses) => {
        const address = addresses[0] as string;
        const upstream: Socket =
          origin.tlsName !== undefined
            ? tlsConnect({ host: address, port: origin.port, servername: host, secureContext: this.deps.upstreamTls })
            : netConnect({ host: address, port: origin.port });
        const headers = this.headersFor(host, origin, req.headers);
        const lines = [`${req.method ?? 'GET'} ${originForm(req.url)} HTTP/1.1`];
        for (const [name, value] of Object.entries(headers)) {
          for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${String(v)}`);
        }
        upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (head.length > 0) upstream.write(head);
        upstream.on('error', () => socket.destroy());
        socket.on('close', () => upstream.destroy());
        upstream.on('close', () => socket.destroy());
        upstream.pipe(socket);
        socket.pipe(upstream);
      },
      (err: Error) => {
        if (err instanceof EgressRefused) this.refused(err.target, err.port, err.reason);
        socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      },
    );
  }
}
