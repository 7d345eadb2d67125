import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { type CodeContext, type CodeEvent, type CodeLanguage, PaddockError } from '@paddock/protocol';
import { CodeClient } from '../../agent-client/code-client.js';
import type { ApiContext } from '../../api/context.js';
import { requestSignal } from '../../api/request-signal.js';
import { FINAL_STATES } from '../../core/sandbox-service.js';
import type { SandboxRecord } from '../../core/seams/store.js';
import type { SandboxPortHandler, SandboxTarget } from '../../ports/sandbox-traffic.js';
import { CONTEXT_ID, E2bCreateContextRequest, E2bExecuteRequest, languageOf, parseBody } from './e2b-requests.js';
import { toE2bLines } from './execution-lines.js';
import { ExecutionLineWriter } from './line-writer.js';
import { E2bHttpError, e2bStatusOf, readJson, sendJson, sendSandboxGone, sendText } from './plain-reply.js';

/** The E2B code interpreter's port inside a sandbox. */
export const CODE_INTERPRETER_PORT = 49999;

export interface CodeInterpreterDeps {
  ctx: ApiContext;
  /**
   * The sandbox's tokens (e2b/access-token.ts): its `envdAccessToken` (`X-Access-Token`) opens
   * every route; its `trafficAccessToken` (`E2B-Traffic-Access-Token`) opens `/contexts…` only.
   */
  accessTokens: {
    verify(sandboxId: string, token: string | undefined): boolean;
    verifyTraffic(sandboxId: string, token: string | undefined): boolean;
  };
}

/** What a request proved it holds. */
type Credential = 'access' | 'traffic' | 'none';

/** A sandbox that cannot answer: E2B's edge says 502, which the SDKs report as a timeout. */
class SandboxGone extends Error {}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The status and message E2B clients get for a failure; undefined for an unexpected one. */
function e2bAnswerOf(err: unknown): { status: number; message: string } | undefined {
  if (err instanceof SandboxGone) return { status: 502, message: err.message };
  if (err instanceof E2bHttpError) return { status: err.status, message: err.message };
  if (err instanceof PaddockError) return { status: e2bStatusOf(err), message: err.message };
  return undefined;
}

function contextNotFound(contextId: string): E2bHttpError {
  return new E2bHttpError(404, `Context ${contextId} not found`);
}

function e2bContext(context: CodeContext): { id: string; language: string; cwd: string } {
  return { id: context.id, language: context.language, cwd: context.cwd };
}

/**
 * E2B's code interpreter (`@e2b/code-interpreter`'s port 49999: `/execute`, `/contexts…`)
 * over Paddock's own: the same agent routes and kernels as `/v1/sandboxes/:id/code`.
 * Auth is what the SDK sends: `X-Access-Token` on `/execute`, `E2B-Traffic-Access-Token` on
 * `/contexts…` (the access token works there too). The credential is checked before anything
 * else happens, a resume included: only an unknown or killed sandbox is told apart first (502,
 * as E2B's edge answers), and a credential-less `/health` learns whether it runs, nothing more.
 */
export class E2bCodeInterpreter implements SandboxPortHandler {
  constructor(private readonly deps: CodeInterpreterDeps) {}

  handleRequest(req: IncomingMessage, res: ServerResponse, target: SandboxTarget): void {
    const signal = requestSignal(res);
    this.dispatch(req, res, target, signal).catch((err: unknown) => this.fail(res, target, err, signal));
  }

  handleUpgrade(_req: IncomingMessage, socket: Duplex): void {
    socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  }

  private async dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    target: SandboxTarget,
    signal: AbortSignal,
  ): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://sandbox').pathname;
    const segments = path.split('/').filter((s) => s !== '');
    const id = target.sandboxId;
    const route = `${req.method ?? 'GET'} /${segments[0] ?? ''}`;
    // Only these two read a body; any other is drained so the connection can be reused.
    if (route !== 'POST /execute' && route !== 'POST /contexts') req.resume();
    const record = this.liveSandbox(id);
    const credential = this.credentialOf(req, id);
    if (route === 'GET /health' && segments.length === 1) {
      if (credential === 'none' && record.state !== 'running') throw new SandboxGone(`The sandbox is ${record.state}`);
      if (credential !== 'none') await this.running(id, signal);
      return sendJson(res, 200, 'OK');
    }
    if (route === 'POST /execute' && segments.length === 1) {
      if (credential !== 'access') {
        req.resume();
        throw new PaddockError(
          'UNAUTHENTICATED',
          'missing or invalid X-Access-Token: send the envdAccessToken returned when the sandbox was created',
        );
      }
      return this.execute(req, res, id, signal);
    }
    if (credential === 'none') {
      req.resume();
      throw new PaddockError(
        'UNAUTHENTICATED',
        "missing or invalid credential: send the sandbox's envdAccessToken as X-Access-Token (or its trafficAccessToken as E2B-Traffic-Access-Token)",
      );
    }
    if (segments[0] === 'contexts') {
      const contextId = segments[1];
      if (segments.length === 1 && req.method === 'POST') return this.createContext(req, res, id, signal);
      if (segments.length === 1 && req.method === 'GET') {
        const { contexts } = await (await this.client(id, signal)).listContexts(signal);
        return sendJson(res, 200, contexts.map(e2bContext));
      }
      if (contextId !== undefined && segments.length === 3 && segments[2] === 'restart' && req.method === 'POST') {
        return this.onContext(res, id, contextId, signal, (code) => code.restartContext(contextId, signal));
      }
      if (contextId !== undefined && segments.length === 2 && req.method === 'DELETE') {
        return this.onContext(res, id, contextId, signal, (code) => code.removeContext(contextId, signal));
      }
    }
    sendText(res, 404, `${req.method} ${path} is not an endpoint of the code interpreter`);
  }

  /** The sandbox's record, resuming nothing; unknown and killed sandboxes are gone (502). */
  private liveSandbox(sandboxId: string): SandboxRecord {
    let record: SandboxRecord;
    try {
      record = this.deps.ctx.service.get(sandboxId);
    } catch (err) {
      if (err instanceof PaddockError) throw new SandboxGone(err.message);
      throw err;
    }
    if (FINAL_STATES.includes(record.state)) throw new SandboxGone(`The sandbox is ${record.state}`);
    return record;
  }

  private credentialOf(req: IncomingMessage, sandboxId: string): Credential {
    const tokens = this.deps.accessTokens;
    if (tokens.verify(sandboxId, headerOf(req, 'x-access-token'))) return 'access';
    if (tokens.verifyTraffic(sandboxId, headerOf(req, 'e2b-traffic-access-token'))) return 'traffic';
    return 'none';
  }

  private async running(sandboxId: string, signal: AbortSignal): Promise<SandboxRecord> {
    try {
      return await this.deps.ctx.pauseAndFork.pause.ensureRunning(sandboxId, signal);
    } catch (err) {
      if (err instanceof PaddockError) throw new SandboxGone(err.message);
      throw err;
    }
  }

  private async client(sandboxId: string, signal: AbortSignal): Promise<CodeClient> {
    await this.running(sandboxId, signal);
    return new CodeClient(this.deps.ctx.agentOf(sandboxId));
  }

  private async createContext(
    req: IncomingMessage,
    res: ServerResponse,
    sandboxId: string,
    signal: AbortSignal,
  ): Promise<void> {
    const body = parseBody(E2bCreateContextRequest, await readJson(req, signal), 'context request');
    const language = languageOf(body.language);
    const code = await this.client(sandboxId, signal);
    const created = await code.createContext({ language, ...(body.cwd ? { cwd: body.cwd } : {}) }, signal);
    sendJson(res, 200, e2bContext(created));
  }

  /** Restart and remove; an id we cannot have is a 404. */
  private async onContext(
    res: ServerResponse,
    sandboxId: string,
    contextId: string,
    signal: AbortSignal,
    act: (code: CodeClient) => Promise<unknown>,
  ): Promise<void> {
    if (!CONTEXT_ID.test(contextId)) throw contextNotFound(contextId);
    const code = await this.client(sandboxId, signal);
    try {
      await act(code);
    } catch (err) {
      if (err instanceof PaddockError && err.code === 'NOT_FOUND') throw contextNotFound(contextId);
      throw err;
    }
    sendJson(res, 200, null);
  }

  /** `/execute`, for a request that holds the access token. */
  private async execute(req: IncomingMessage, res: ServerResponse, sandboxId: string, signal: AbortSignal) {
    const body = parseBody(E2bExecuteRequest, await readJson(req, signal), 'execute request');
    if (body.context_id && body.language) {
      throw new E2bHttpError(400, 'Only one of context_id or language can be provided');
    }
    let language: CodeLanguage | undefined;
    let contextId: string;
    if (body.context_id) {
      if (!CONTEXT_ID.test(body.context_id)) throw contextNotFound(body.context_id);
      contextId = body.context_id;
    } else {
      language = languageOf(body.language);
      // A language's default context has the language's name (protocol/code.ts).
      contextId = language;
    }
    await this.running(sandboxId, signal);
    // The command owner's call: the sandbox's env under the run's, and the lost verdict.
    const run = await this.deps.ctx.commands.open(sandboxId);
    const code = new CodeClient(run.agent);
    // `env_vars` hold for this run only: the agent resets them before the context's next cell.
    const env = run.env(body.env_vars);
    let started: IncomingMessage;
    try {
      // No server-side limit: the SDK's `timeoutMs` closes the stream, which interrupts the cell.
      const target = language ? { language } : { contextId };
      started = await code.start({ code: body.code, ...target, timeoutMs: 0, env }, signal);
    } catch (err) {
      if (err instanceof PaddockError && err.code === 'NOT_FOUND') throw contextNotFound(contextId);
      throw err;
    }
    await this.relay(res, run.watch(code.events(started, signal), signal), signal);
  }

  /** Streams the run as E2B lines. */
  private async relay(res: ServerResponse, events: AsyncIterable<CodeEvent>, signal: AbortSignal): Promise<void> {
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.flushHeaders();
    const out = new ExecutionLineWriter(res, signal);
    try {
      for await (const event of events) {
        for (const line of toE2bLines(event, new Date())) await out.write(line);
      }
    } catch (err) {
      if (signal.aborted) return;
      // The agent went away mid-cell: E2B's server reports a lost kernel the same way.
      const value = err instanceof Error ? err.message : String(err);
      await out.write({ type: 'error', name: 'UnexpectedEndOfExecution', value, traceback: '' });
      await out.write({ type: 'end_of_execution' });
    } finally {
      out.stop();
    }
    out.end();
  }

  private fail(res: ServerResponse, target: SandboxTarget, err: unknown, signal: AbortSignal): void {
    if (signal.aborted) {
      res.destroy();
      return;
    }
    const answer = e2bAnswerOf(err) ?? { status: 500, message: 'internal error (see the server log)' };
    if (answer.status === 500) {
      this.deps.ctx.logger.error({ err, sandboxId: target.sandboxId }, 'E2B code interpreter failed');
    }
    if (answer.status === 502) sendSandboxGone(res, target.sandboxId, answer.message);
    else sendText(res, answer.status, answer.message);
  }
}
