import { type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { PaddockError } from '@paddock/protocol';
import type { Logger } from '../core/logger.js';
import { type ExposedPorts, TOKEN_PARAM } from './exposed-ports.js';
import { forwardHeaders, requestHead, responseHeaders, takeToken } from './forwarded-request.js';
import type { PortGrant } from './port-tokens.js';
import type { SandboxPortHandler, SandboxTarget } from './sandbox-traffic.js';
import { TunnelAgents } from './tunnel-agents.js';

/**
 * The exposed-port proxy: the sandbox-traffic router's default handler. Each request is
 * checked (port, sandbox, token) before anything else — only then is a paused sandbox resumed,
 * if it may be — and then forwarded over a tunnel through the sandbox's agent, without the
 * server's API key or any Paddock/E2B credential (forwarded-request.ts): plain HTTP/1.1 with node's client over a keep-alive
 * pool of tunnels per sandbox and port (bodies streamed both ways, chunk by chunk),
 * WebSocket and other upgrades spliced raw on a tunnel of their own.
 */
export class PortProxy implements SandboxPortHandler {
  private readonly tunnels: TunnelAgents;

  /**
   * @param isApiKey true for a key of this server's API: such a key is never forwarded into a
   *   sandbox (see forwardHeaders).
   */
  constructor(
    private readonly ports: ExposedPorts,
    private readonly logger: Logger,
    private readonly isApiKey: (key: string) => boolean,
  ) {
    this.tunnels = new TunnelAgents((target) => ports.tunnel(target));
  }

  /** Closes the idle pooled tunnels (server shutdown). */
  close(): void {
    this.tunnels.close();
  }

  handleRequest(req: IncomingMessage, res: ServerResponse, target: SandboxTarget): void {
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort(new Error('client disconnected'));
    });
    this.forward(req, res, target, abort.signal).catch((err: unknown) => {
      if (abort.signal.aborted) return;
      const error = this.asPaddockError(err, target);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const body = JSON.stringify(error.toBody());
      res.writeHead(error.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      // An unread request body must not be taken for the next request on this connection.
      if (!req.complete) req.resume();
    });
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, target: SandboxTarget): void {
    const abort = new AbortController();
    const onClose = () => abort.abort(new Error('client disconnected'));
    socket.once('close', onClose);
    socket.on('error', () => socket.destroy());
    this.splice(req, socket, head, target, abort.signal).then(
      () => socket.off('close', onClose),
      (err: unknown) => {
        if (abort.signal.aborted) return;
        const error = this.asPaddockError(err, target);
        const body = JSON.stringify(error.toBody());
        socket.end(
          `HTTP/1.1 ${error.status} ${error.code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        );
      },
    );
  }

  private async forward(
    req: IncomingMessage,
    res: ServerResponse,
    target: SandboxTarget,
    signal: AbortSignal,
  ): Promise<void> {
    const admitted = this.admit(req, target);
    try {
      await this.ports.ensureRunning(target, signal);
    } catch (err) {
      if (err instanceof PaddockError && (err.code === 'NOT_FOUND' || err.code === 'SANDBOX_NOT_RUNNING')) {
        this.tunnels.forget(target.sandboxId);
      }
      throw err;
    }
    // A pooled tunnel may be closed by the sandbox's server just as it is reused; a request
    // without a body is then sent again, once, on a fresh tunnel.
    const bodiless = req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.send(req, res, target, { ...admitted, signal, bodiless });
      if (outcome === 'done' || signal.aborted) return;
      if (!bodiless || attempt > 0) throw outcome.error;
    }
  }

  /** One try: resolves 'done' once the response has been relayed, or the failure of a reused tunnel. */
  private send(
    req: IncomingMessage,
    res: ServerResponse,
    target: SandboxTarget,
    options: Admitted & { signal: AbortSignal; bodiless: boolean },
  ): Promise<'done' | { error: PaddockError }> {
    const { path, grant, token, fromQuery, signal } = options;
    return new Promise((resolve, reject) => {
      const upstream = request({
        method: req.method,
        path,
        headers: forwardHeaders(req, { upgrade: false, isApiKey: this.isApiKey }),
        agent: this.tunnels.of(target),
      });
      const cut = () => upstream.destroy();
      signal.addEventListener('abort', cut, { once: true });
      let answered = false;
      upstream.on('error', (err) => {
        signal.removeEventListener('abort', cut);
        const error =
          err instanceof PaddockError
            ? err
            : new PaddockError(
                'UNAVAILABLE',
                `the server on port ${target.port} closed the connection: ${err.message}`,
              );
        if (upstream.reusedSocket && !answered) resolve({ error });
        else reject(error);
      });
      upstream.on('response', (answer) => {
        answered = true;
        const headers = responseHeaders(answer.headers);
        if (fromQuery && token !== undefined && grant !== undefined && target.via === 'host') {
          headers['set-cookie'] = [...asList(headers['set-cookie']), tokenCookie(token, grant)];
        }
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
        answer.pipe(res);
        answer.once('end', () => {
          signal.removeEventListener('abort', cut);
          resolve('done');
        });
        answer.once('error', () => res.destroy());
        // A response is complete when its body is: whatever the request still sends is moot.
        answer.once('close', () => {
          if (!answer.complete) res.destroy();
        });
      });
      if (options.bodiless) upstream.end();
      else req.pipe(upstream);
    });
  }

  private async splice(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    target: SandboxTarget,
    signal: AbortSignal,
  ): Promise<void> {
    const { path } = this.admit(req, target);
    const tunnel = await this.ports.connect(target, signal);
    if (signal.aborted) {
      tunnel.destroy();
      return;
    }
    tunnel.write(
      requestHead(req.method ?? 'GET', path, forwardHeaders(req, { upgrade: true, isApiKey: this.isApiKey })),
    );
    if (head.length > 0) tunnel.write(head);
    socket.pipe(tunnel);
    tunnel.pipe(socket);
    const destroyBoth = () => {
      socket.destroy();
      tunnel.destroy();
    };
    tunnel.on('error', destroyBoth);
    socket.on('error', destroyBoth);
    socket.once('close', () => tunnel.end());
    tunnel.once('close', () => socket.end());
  }

  /** The checks before any sandbox work: port range, sandbox, token. */
  private admit(req: IncomingMessage, target: SandboxTarget): Admitted {
    if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65_535) {
      const where = target.via === 'host' ? 'the Host {port}-{id}.{domain}' : 'the X-Paddock-Port header';
      throw new PaddockError('INVALID_ARGUMENT', `\`port\` must be from 1 to 65535 (${where}), got ${target.port}`, {
        fields: ['port'],
      });
    }
    const { token, fromQuery, path } = takeToken(req);
    const grant = this.ports.authorize(target, token);
    return { path, grant, token, fromQuery };
  }

  private asPaddockError(err: unknown, target: SandboxTarget): PaddockError {
    if (err instanceof PaddockError) return err;
    this.logger.error({ err, sandboxId: target.sandboxId, port: target.port }, 'exposed-port request failed');
    return new PaddockError('INTERNAL', 'the exposed-port proxy failed unexpectedly (the cause is in the server log)');
  }
}

/** What the checks found: the path to forward and the token that let the request in. */
interface Admitted {
  path: string;
  grant: PortGrant | undefined;
  token: string | undefined;
  fromQuery: boolean;
}

function asList(value: string | number | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? [...value] : [String(value)];
}

/** Host-only (no Domain), HttpOnly: the browser sends it back to this one `{port}-{id}` host. */
function tokenCookie(token: string, grant: PortGrant): string {
  const maxAgeS = Math.max(0, Math.floor((grant.expiresAtMs - Date.now()) / 1000));
  return `${TOKEN_PARAM}=${token}; Path=/; Max-Age=${maxAgeS}; HttpOnly; SameSite=Lax`;
}
