import { type Agent, type ClientRequest, type IncomingMessage, request } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { isErrorCode, PaddockError } from '@paddock/protocol';

/** Options every agent call takes. */
export interface CallOptions {
  signal?: AbortSignal | undefined;
}

/** What the per-route clients (processes, tunnels) need of the agent's client: its raw requests. */
export interface RawAgent {
  raw(request: AgentRequest): Promise<IncomingMessage>;
}

/** One request to the agent. Exactly one of `json` and `body` may be given. */
export interface AgentRequest {
  method: 'GET' | 'POST' | 'PUT';
  /** Route of docs/agent-protocol.md, e.g. `/files/read`. */
  path: string;
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  /** Streamed as the request body (chunked unless `sizeBytes` is given). */
  body?: NodeJS.ReadableStream | AsyncIterable<Uint8Array>;
  sizeBytes?: number;
  signal?: AbortSignal | undefined;
  /**
   * A follower of output that outlives what it follows (a process's or terminal's output):
   * a pause leaves it open, to go on without a gap after the resume (see `AgentEndpoint.stop`).
   */
  follower?: boolean;
}

/** Where and how to reach one agent. */
export interface AgentEndpoint {
  socketPath: string;
  agent: Agent;
  /**
   * Aborts every call in flight and every later one, with its reason, except followers: the
   * sandbox is paused, and a frozen agent would otherwise leave them hanging.
   */
  stop?: AbortSignal;
  /** Aborts followers too: the agent goes away (hibernate, fork). */
  gone?: AbortSignal;
}

/** Error codes of a connection that never reached, or lost, the agent. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ENOTSOCK']);
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * Sends `req` and resolves with the response once its head arrives with a 2xx status; its
 * body is left for the caller to stream. Any other status rejects with the agent's typed
 * error; an unreachable agent rejects with UNAVAILABLE; an abort rejects with the signal's
 * reason and also cuts a response body that is still being read.
 */
export function send(endpoint: AgentEndpoint, req: AgentRequest): Promise<IncomingMessage> {
  const { signal, release } = joinSignals(req.signal, req.follower ? endpoint.gone : endpoint.stop);
  if (signal?.aborted) {
    release();
    return Promise.reject(signal.reason);
  }
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    let payload: string | undefined;
    if (req.json !== undefined) {
      payload = JSON.stringify(req.json);
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    } else if (req.body !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      if (req.sizeBytes !== undefined) headers['content-length'] = req.sizeBytes;
    }
    // No socketPath: the pool connects through connectAgentSocket (agent-socket.ts).
    const outgoing = request({
      agent: endpoint.agent,
      method: req.method,
      path: pathWithQuery(req.path, req.query),
      headers,
    });

    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      release();
      reject(signal?.aborted ? signal.reason : transportError(err));
    };
    const onAbort = () => {
      outgoing.destroy();
      fail(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    outgoing.on('error', fail);
    outgoing.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        settled = true;
        // From here the abort cuts the body the caller is reading.
        signal?.removeEventListener('abort', onAbort);
        const cut = () => res.destroy(signal?.reason);
        signal?.addEventListener('abort', cut, { once: true });
        res.once('close', () => {
          signal?.removeEventListener('abort', cut);
          release();
        });
        resolve(res);
        return;
      }
      readError(res, status).then(
        (err) => {
          // Stops an upload the agent has already refused (e.g. DISK_FULL).
          outgoing.destroy();
          fail(err);
        },
        (err: unknown) => fail(err),
      );
    });

    if (payload !== undefined) outgoing.end(payload);
    else if (req.body !== undefined) sendBody(req.body, outgoing, fail);
    else outgoing.end();
  });
}

/**
 * One signal for the caller's and the endpoint's: either aborts with its own reason. Made
 * by hand (not `AbortSignal.any`) so that the long-lived endpoint signal holds no listener
 * of a call once `release` ran.
 */
function joinSignals(
  caller: AbortSignal | undefined,
  stop: AbortSignal | undefined,
): { signal: AbortSignal | undefined; release: () => void } {
  if (!caller || !stop) return { signal: caller ?? stop, release: () => {} };
  const controller = new AbortController();
  const onCaller = () => controller.abort(caller.reason);
  const onStop = () => controller.abort(stop.reason);
  if (caller.aborted) onCaller();
  else if (stop.aborted) onStop();
  caller.addEventListener('abort', onCaller, { once: true });
  stop.addEventListener('abort', onStop, { once: true });
  return {
    signal: controller.signal,
    release: () => {
      caller.removeEventListener('abort', onCaller);
      stop.removeEventListener('abort', onStop);
    },
  };
}

/** Reads the body of a JSON answer (small: stat, list, write results). */
export async function readJsonBody(res: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** Maps a failure of the connection itself; other errors pass unchanged. */
export function transportError(err: unknown): unknown {
  if (err instanceof PaddockError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && UNREACHABLE.has(code)) {
    return new PaddockError('UNAVAILABLE', `sandbox agent is not reachable: ${(err as Error).message}`, undefined, {
      cause: err,
    });
  }
  if ((err as Error | undefined)?.message === 'aborted' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return new PaddockError('UNAVAILABLE', 'sandbox agent closed the connection mid-response', undefined, {
      cause: err,
    });
  }
  return err;
}

async function readError(res: IncomingMessage, status: number): Promise<PaddockError> {
  const chunks: Buffer[] = [];
  let sizeBytes = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    sizeBytes += chunk.length;
    if (sizeBytes > MAX_ERROR_BODY_BYTES) break;
    chunks.push(chunk);
  }
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    if (isErrorCode(body.code) && typeof body.message === 'string') {
      const details = typeof body.details === 'object' && body.details !== null ? body.details : undefined;
      return new PaddockError(body.code, body.message, details as Record<string, unknown> | undefined);
    }
  } catch {
    // Not our error shape; reported below.
  }
  return new PaddockError('INTERNAL', `sandbox agent answered HTTP ${status} without an error body`);
}

function pathWithQuery(path: string, query: AgentRequest['query']): string {
  if (query === undefined) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

/**
 * Streams an upload into the agent request. A Node stream is piped without `pipeline`, so
 * that when the agent refuses the upload (e.g. DISK_FULL) the caller's stream is only
 * unpiped, not destroyed: the API can still drain it and answer the client properly.
 */
function sendBody(
  body: NodeJS.ReadableStream | AsyncIterable<Uint8Array>,
  outgoing: ClientRequest,
  fail: (err: unknown) => void,
): void {
  const source = body as NodeJS.ReadableStream;
  if (typeof source.pipe !== 'function') {
    pipeline(body, outgoing).catch(fail);
    return;
  }
  const onSourceError = (err: Error) => outgoing.destroy(err);
  source.once('error', onSourceError);
  outgoing.once('close', () => {
    source.unpipe(outgoing);
    source.off('error', onSourceError);
  });
  source.pipe(outgoing);
}
