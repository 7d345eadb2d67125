import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ApiContext } from '../../api/context.js';
import { requestSignal } from '../../api/request-signal.js';
import { PAUSED_STATES } from '../../core/sandbox-service.js';
import type { SandboxRecord } from '../../core/seams/store.js';
import type { SandboxPortHandler, SandboxTarget } from '../../ports/sandbox-traffic.js';
import { type EnvdAccessTokens, type FileSignature, signatureValid } from '../access-token.js';
import {
  ConnectError,
  ConnectStream,
  parseRequestMessage,
  readBody,
  sendUnary,
  sendUnaryError,
  toConnectError,
} from './connect-protocol.js';
import { basicUserOf, type EnvdCall } from './envd-call.js';
import { downloadFile, sendJsonError, sendRestError, uploadFiles } from './files-rest.js';
import { FilesystemService } from './filesystem-service.js';
import { PidTable } from './pid-table.js';
import { ProcessService } from './process-service.js';

/** envd's in-sandbox port; the SDKs reach it with `E2b-Sandbox-Port: 49983`. */
export const ENVD_PORT = 49983;
const MAX_RPC_BODY_BYTES = 16 * 1_048_576;
const DEFAULT_KEEPALIVE_MS = 90_000;

type Unary = (call: EnvdCall, message: unknown) => unknown;
type Streaming = (call: EnvdCall, message: unknown, stream: () => ConnectStream) => Promise<void>;

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

class SandboxGone extends Error {}

/**
 * envd, emulated on the host: the Connect RPCs (`process.Process`, `filesystem.Filesystem`) and
 * the REST routes (`/files`, `/health`, `/envs`) of E2B's in-sandbox daemon, each mapped onto
 * the sandbox's agent. Registered for port 49983 on the sandbox traffic router.
 */
export class EnvdHandler implements SandboxPortHandler {
  private readonly processes: ProcessService;
  private readonly filesystem = new FilesystemService();
  private readonly unary: Record<string, Unary>;
  private readonly streaming: Record<string, [Streaming, unknown]>;
  /** Responses still streaming (RPC streams, file transfers): ended when the server closes. */
  private readonly open = new Set<ServerResponse>();

  constructor(
    private readonly ctx: ApiContext,
    private readonly tokens: EnvdAccessTokens,
  ) {
    this.processes = new ProcessService(new PidTable(), ctx.commands);
    const p = this.processes;
    const f = this.filesystem;
    this.unary = {
      'process.Process/List': (c) => p.list(c),
      'process.Process/SendInput': (c, m) => p.sendInput(c, m),
      'process.Process/SendSignal': (c, m) => p.sendSignal(c, m),
      'process.Process/CloseStdin': (c, m) => p.closeStdin(c, m),
      'process.Process/Update': (c, m) => p.update(c, m),
      'filesystem.Filesystem/Stat': (c, m) => f.stat(c, m),
      'filesystem.Filesystem/MakeDir': (c, m) => f.makeDir(c, m),
      'filesystem.Filesystem/Move': (c, m) => f.move(c, m),
      'filesystem.Filesystem/ListDir': (c, m) => f.listDir(c, m),
      'filesystem.Filesystem/Remove': (c, m) => f.remove(c, m),
      'filesystem.Filesystem/CreateWatcher': (c, m) => f.createWatcher(c, m),
      'filesystem.Filesystem/GetWatcherEvents': (c, m) => f.getWatcherEvents(c, m),
      'filesystem.Filesystem/RemoveWatcher': (c, m) => f.removeWatcher(c, m),
    };
    this.streaming = {
      'process.Process/Start': [(c, m, s) => p.start(c, m, s), { event: { keepalive: {} } }],
      'process.Process/Connect': [(c, m, s) => p.connect(c, m, s), { event: { keepalive: {} } }],
      'filesystem.Filesystem/WatchDir': [(c, m, s) => f.watchDir(c, m, s), { keepalive: {} }],
    };
  }

  handleRequest(req: IncomingMessage, res: ServerResponse, target: SandboxTarget): void {
    this.open.add(res);
    res.once('close', () => this.open.delete(res));
    this.serve(req, res, target.sandboxId).catch((err: unknown) => {
      if (err instanceof SandboxGone) {
        sendGone(res, target.sandboxId, err.message);
        return;
      }
      this.ctx.logger.error({ err, sandboxId: target.sandboxId }, 'envd request failed');
      sendJsonError(res, 500, 'internal error (see the server log)');
    });
  }

  /**
   * Ends every stream still open, so that the server's close does not wait for them (a
   * background command's Start stream lasts as long as the command). The processes, owned
   * by the agents, keep running; clients reattach with `commands.connect`.
   */
  close(): void {
    for (const res of this.open) res.destroy();
    this.open.clear();
    this.filesystem.close();
  }

  /** envd serves no WebSockets. */
  handleUpgrade(_req: IncomingMessage, socket: Duplex): void {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
  }

  /**
   * A signed `uploadUrl()`/`downloadUrl()` request on the shared origin carries no sandbox id:
   * the sandbox is the one whose access token made the signature. True when handled.
   */
  routeSignedFiles(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://envd');
    if (url.pathname !== '/files' || !url.searchParams.has('signature')) return false;
    if (req.method !== 'GET' && req.method !== 'POST') return false;
    const sig = signatureOf(req, url);
    const now = Date.now();
    const owner = this.ctx.service
      .list({ states: ['running', ...PAUSED_STATES] })
      .find((r) => signatureValid(sig, this.tokens.tokenOf(r.id), now));
    if (!owner) {
      sendJsonError(res, 401, 'the signature does not match any sandbox, or it has expired');
      return true;
    }
    this.handleRequest(req, res, { sandboxId: owner.id, port: ENVD_PORT, via: 'header' });
    return true;
  }

  private async serve(req: IncomingMessage, res: ServerResponse, sandboxId: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://envd');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-origin': '*',
        'access-control-allow-methods': '*',
        'access-control-allow-headers': '*',
        'access-control-expose-headers': '*',
      });
      res.end();
      return;
    }
    // The credential is checked before anything happens, a resume included: only an unknown or
    // killed sandbox is told apart first (502, as E2B's edge answers).
    const known = this.knownSandbox(sandboxId);
    const path = url.pathname;
    const token = header(req, 'x-access-token');
    const byToken = this.tokens.verify(sandboxId, token);
    const bySignature =
      !byToken &&
      path === '/files' &&
      url.searchParams.has('signature') &&
      signatureValid(signatureOf(req, url), this.tokens.tokenOf(sandboxId), Date.now());
    const authorized = byToken || bySignature;
    if (path === '/health') {
      // Without the token, /health tells whether the sandbox runs (the SDK's isRunning) and wakes nothing.
      if (authorized) await this.runningSandbox(known);
      else if (known.state !== 'running') throw new SandboxGone(`The sandbox is ${known.state}`);
      res.writeHead(204).end();
      return;
    }
    if (!authorized) {
      const message = token === undefined ? 'missing X-Access-Token' : 'invalid X-Access-Token';
      if (path.includes('.')) sendUnaryError(res, new ConnectError('unauthenticated', message));
      else sendJsonError(res, 401, message);
      return;
    }
    const record = await this.runningSandbox(known);
    const call = this.callOf(req, res, record, url);
    // A signed URL acts as the user it was signed for: a Basic header cannot swap in another.
    if (bySignature) call.user = url.searchParams.get('username') || undefined;
    if (path === '/files' && (req.method === 'GET' || req.method === 'POST')) {
      const target = url.searchParams.get('path') ?? undefined;
      try {
        if (req.method === 'GET') await downloadFile(call, target, res);
        else await uploadFiles(call, { path: target, signedPath: bySignature ? (target ?? '') : undefined }, req, res);
      } catch (err) {
        if (!call.signal.aborted) sendRestError(res, err);
      }
      return;
    }
    if (path === '/envs' && req.method === 'GET') {
      sendUnary(res, record.env);
      return;
    }
    await this.rpc(req, res, call, path.slice(1));
  }

  private async rpc(req: IncomingMessage, res: ServerResponse, call: EnvdCall, method: string): Promise<void> {
    const streaming = this.streaming[method];
    const unary = this.unary[method];
    if (req.method !== 'POST' || (!streaming && !unary)) {
      sendUnaryError(
        res,
        new ConnectError(
          'unimplemented',
          method === 'process.Process/StreamInput'
            ? 'process.Process/StreamInput is not supported by this server: use SendInput'
            : `${req.method} /${method} is not an envd route served by Paddock`,
        ),
      );
      return;
    }
    if (unary) {
      try {
        const message = parseRequestMessage(await readBody(req, MAX_RPC_BODY_BYTES), false);
        sendUnary(res, await unary(call, message));
      } catch (err) {
        if (!(err instanceof ConnectError) && !(err instanceof Error && 'code' in err)) {
          this.ctx.logger.error({ err, method }, 'envd call failed');
        }
        if (!call.signal.aborted) sendUnaryError(res, toConnectError(err));
      }
      return;
    }
    const [handler, keepalive] = streaming as [Streaming, unknown];
    let stream: ConnectStream | undefined;
    const open = () => {
      stream ??= new ConnectStream(res, { message: keepalive, intervalMs: call.keepaliveMs });
      return stream;
    };
    try {
      const message = parseRequestMessage(await readBody(req, MAX_RPC_BODY_BYTES), true);
      await handler(call, message, open);
      open().end();
    } catch (err) {
      if (call.signal.aborted) {
        res.destroy();
        return;
      }
      if (!(err instanceof ConnectError) && !(err instanceof Error && 'code' in err)) {
        this.ctx.logger.error({ err, method }, 'envd stream failed');
      }
      open().end(err);
    }
  }

  /** The record of a running or paused sandbox, resuming nothing; dead and unknown ones are 502, as E2B's edge answers. */
  private knownSandbox(id: string): SandboxRecord {
    let record: SandboxRecord;
    try {
      record = this.ctx.service.get(id);
    } catch {
      this.processes.forget(id);
      throw new SandboxGone('The sandbox was not found');
    }
    if (record.state !== 'running' && !PAUSED_STATES.includes(record.state)) {
      this.processes.forget(id);
      throw new SandboxGone('The sandbox was not found');
    }
    return record;
  }

  /** For an authorized request: the sandbox, running (an autoResume one is resumed); a paused one is 502. */
  private async runningSandbox(record: SandboxRecord): Promise<SandboxRecord> {
    if (!PAUSED_STATES.includes(record.state)) return record;
    if (!record.autoResume)
      throw new SandboxGone('The sandbox is paused: connect to it (Sandbox.connect) to resume it');
    return this.ctx.pauseAndFork.pause.ensureRunning(record.id);
  }

  private callOf(req: IncomingMessage, res: ServerResponse, record: SandboxRecord, url: URL): EnvdCall {
    const signal = requestSignal(res);
    const timeout = Number(header(req, 'connect-timeout-ms'));
    const keepaliveS = Number(header(req, 'keepalive-ping-interval'));
    const user = basicUserOf(header(req, 'authorization')) ?? (url.searchParams.get('username') || undefined);
    return {
      record,
      agent: this.ctx.agentOf(record.id),
      user,
      signal,
      timeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout : undefined,
      keepaliveMs: Number.isFinite(keepaliveS) && keepaliveS > 0 ? keepaliveS * 1000 : DEFAULT_KEEPALIVE_MS,
    };
  }
}

function signatureOf(req: IncomingMessage, url: URL): FileSignature {
  const expiration = url.searchParams.get('signature_expiration');
  return {
    path: url.searchParams.get('path') ?? '',
    operation: req.method === 'POST' ? 'write' : 'read',
    username: url.searchParams.get('username') ?? '',
    signature: url.searchParams.get('signature') ?? '',
    expirationS: expiration === null ? undefined : Number(expiration),
  };
}

/** E2B's edge answer for a sandbox that is not there: 502 with the id (the SDK's isRunning → false). */
function sendGone(res: ServerResponse, sandboxId: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ sandboxId, message, code: 502 });
  res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
