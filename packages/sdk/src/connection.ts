import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import type { ErrorBody } from '@paddock/protocol';
import { errorFromBody, InternalError, SandboxError, TimeoutError, UnavailableError } from './errors.js';

/** How to reach the server. Arguments win over `PADDOCK_URL` / `PADDOCK_API_KEY`. */
export interface ConnectionOptions {
  /** Server URL; default `PADDOCK_URL` or `http://127.0.0.1:7070`. */
  apiUrl?: string;
  /** API key; default `PADDOCK_API_KEY`. */
  apiKey?: string;
  /**
   * Time to wait for the server to answer one request (headers, and the whole body of
   * non-streaming calls). Separate from `timeoutMs`, which is the lifetime of what you start.
   * Default 30 s; 0 waits forever.
   */
  requestTimeoutMs?: number;
  /** Cancels the call; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

const DEFAULT_URL = 'http://127.0.0.1:7070';
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Resolved connection settings shared by a sandbox and its sub-APIs. */
export class Connection {
  readonly apiUrl: string;
  readonly apiKey: string | undefined;
  readonly requestTimeoutMs: number;
  private readonly agent: http.Agent;

  constructor(options: ConnectionOptions = {}) {
    this.apiUrl = (options.apiUrl ?? process.env.PADDOCK_URL ?? DEFAULT_URL).replace(/\/+$/, '');
    this.apiKey = options.apiKey ?? (process.env.PADDOCK_API_KEY || undefined);
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const isHttps = this.apiUrl.startsWith('https:');
    this.agent = isHttps ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    // Idle keep-alive sockets must not keep the user's process alive.
    this.agent.on('free', (socket) => socket.unref());
  }

  /**
   * Sends one request and resolves with the response once its headers arrive; non-2xx
   * becomes a typed {@link SandboxError}. The body stays a stream for the caller.
   */
  async request(
    method: string,
    path: string,
    opts: {
      json?: unknown;
      body?: Readable | Uint8Array;
      contentType?: string;
      signal?: AbortSignal | undefined;
      requestTimeoutMs?: number | undefined;
    } = {},
  ): Promise<IncomingMessage> {
    const url = new URL(this.apiUrl + path);
    const transport = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { accept: 'application/json, application/x-ndjson' };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    let payload: Uint8Array | Readable | undefined;
    if (opts.json !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.json));
      headers['content-type'] = 'application/json';
    } else if (opts.body !== undefined) {
      payload = opts.body;
      headers['content-type'] = opts.contentType ?? 'application/octet-stream';
    }
    if (payload instanceof Uint8Array) headers['content-length'] = String(payload.byteLength);
    const timeoutMs = opts.requestTimeoutMs ?? this.requestTimeoutMs;
    const signal = opts.signal;
    signal?.throwIfAborted();

    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = transport.request(url, { method, headers, agent: this.agent });
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        cleanup();
        req.destroy(signal?.reason as Error);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          const err = new TimeoutError('TIMEOUT', `no response from ${url.host} within requestTimeoutMs=${timeoutMs}`);
          req.destroy(err);
          reject(err);
        }, timeoutMs);
      }
      req.on('error', (err: NodeJS.ErrnoException) => {
        cleanup();
        if (err instanceof SandboxError || signal?.aborted) return reject(signal?.reason ?? err);
        reject(
          new UnavailableError('UNAVAILABLE', `cannot reach the Paddock server at ${this.apiUrl}: ${err.message}`, {
            cause: err,
          }),
        );
      });
      req.on('response', (res) => {
        cleanup();
        // A streaming response keeps following the caller's signal.
        if (signal) {
          const abortBody = () => res.destroy(signal.reason as Error);
          signal.addEventListener('abort', abortBody, { once: true });
          res.once('close', () => signal.removeEventListener('abort', abortBody));
        }
        if ((res.statusCode ?? 500) >= 400) {
          readAll(res).then(
            (buf) => {
              let body: Partial<ErrorBody> | undefined;
              try {
                body = JSON.parse(buf.toString('utf8')) as Partial<ErrorBody>;
              } catch {
                body = undefined;
              }
              reject(errorFromBody(body, res.statusCode));
            },
            (err: unknown) => reject(err),
          );
          return;
        }
        resolve(res);
      });
      if (payload instanceof Readable) {
        payload.on('error', (err) => req.destroy(err));
        payload.pipe(req);
      } else {
        req.end(payload);
      }
    });
  }

  /** A JSON call: resolves with the parsed body (undefined for 204). */
  async json<T>(
    method: string,
    path: string,
    opts: { json?: unknown; signal?: AbortSignal | undefined; requestTimeoutMs?: number | undefined } = {},
  ): Promise<T> {
    const res = await this.request(method, path, opts);
    const buf = await readAll(res);
    if (res.statusCode === 204 || buf.length === 0) return undefined as T;
    try {
      return JSON.parse(buf.toString('utf8')) as T;
    } catch (err) {
      throw new InternalError('INTERNAL', `the server sent a response that is not JSON (HTTP ${res.statusCode})`, {
        cause: err,
      });
    }
  }
}

export async function readAll(stream: AsyncIterable<Uint8Array | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Rejects with the registry-typed error when a parsed body does not match its schema. */
export function checked<T>(
  parse: (v: unknown) => { success: true; data: T } | { success: false; error: Error },
  value: unknown,
): T {
  const result = parse(value);
  if (!result.success) {
    throw new SandboxError('INTERNAL', `unexpected response from the server: ${result.error.message}`);
  }
  return result.data;
}
