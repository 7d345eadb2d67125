import { parseNdjson, WATCH_KEEPALIVE_MS, type WatchEvent, WatchLine } from '@paddock/protocol';
import type { Connection } from './connection.js';
import { errorFromBody, SandboxError, UnavailableError } from './errors.js';

/** Options of {@link Files.watch}. */
export interface WatchOptions {
  /** Also watch every subdirectory, present and future. Default true. */
  recursive?: boolean;
  /**
   * Only report matching paths: a path prefix relative to the watched directory (or
   * absolute, inside it), or a glob on the relative path (`src/**\/*.ts`; `*.ts` matches the
   * file name at any depth).
   */
  filter?: string;
  /** Called once if the watch ends by itself: the directory was removed (`NotFoundError`), the sandbox stopped, the connection broke, or `onEvent` threw. */
  onError?: (err: Error) => void;
  /** Stops the watch (like `stop()`). */
  signal?: AbortSignal;
  /** How long to wait for the watch to be set up. */
  requestTimeoutMs?: number;
}

/** Called with each change; a returned promise is awaited before the next event. */
export type WatchCallback = (event: WatchEvent) => void | Promise<void>;

/** A quiet watch that hears nothing, not even a keep-alive, for this long is taken as broken. */
const SILENCE_LIMIT_MS = 2 * WATCH_KEEPALIVE_MS + 5_000;

/**
 * A running watch. Stop it with `stop()` (or `await using`).
 *
 * @example
 * ```ts
 * await using w = await sbx.files.watch('/home/user/app', (ev) => console.log(ev.type, ev.path))
 * ```
 */
export class WatchHandle implements AsyncDisposable {
  /** Settles once the watch is over (stopped, or ended by itself). Never rejects. */
  readonly done: Promise<void>;

  constructor(
    private readonly controller: AbortController,
    done: Promise<void>,
  ) {
    this.done = done;
  }

  /** Stops watching; resolves once the stream is closed and no more events will come. */
  async stop(): Promise<void> {
    this.controller.abort(new Error('watch stopped'));
    await this.done;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * Opens `GET /v1/sandboxes/:id/files/watch` and resolves once the sandbox's agent has
 * taken its first look: every change after that is reported. Events are coalesced at
 * times, but always add up to the directory's current state.
 */
export async function startWatch(
  conn: Connection,
  url: string,
  onEvent: WatchCallback,
  opts: WatchOptions,
): Promise<WatchHandle> {
  const controller = new AbortController();
  const external = opts.signal;
  external?.throwIfAborted();
  const onExternalAbort = () => controller.abort(external?.reason);
  external?.addEventListener('abort', onExternalAbort, { once: true });
  let res: Awaited<ReturnType<Connection['request']>>;
  try {
    res = await conn.request('GET', url, { signal: controller.signal, requestTimeoutMs: opts.requestTimeoutMs });
  } catch (err) {
    external?.removeEventListener('abort', onExternalAbort);
    throw err;
  }
  const lines = parseNdjson(res)[Symbol.asyncIterator]();
  let silence: NodeJS.Timeout | undefined;
  const next = async (): Promise<Exclude<WatchLine, { type: 'error' }> | undefined> => {
    clearTimeout(silence);
    silence = setTimeout(() => {
      res.destroy(new UnavailableError('UNAVAILABLE', `the watch heard nothing for ${SILENCE_LIMIT_MS} ms`));
    }, SILENCE_LIMIT_MS);
    silence.unref();
    const step = await lines.next();
    if (step.done) return undefined;
    const parsed = WatchLine.safeParse(step.value);
    if (!parsed.success) throw new SandboxError('INTERNAL', `unexpected watch line: ${JSON.stringify(step.value)}`);
    const line = parsed.data;
    if (line.type === 'error') throw errorFromBody(line.error as never);
    return line;
  };
  const finish = () => {
    clearTimeout(silence);
    external?.removeEventListener('abort', onExternalAbort);
    if (!res.destroyed) res.destroy();
  };

  try {
    const first = await next();
    if (first?.type !== 'ready') throw new SandboxError('INTERNAL', 'the watch stream did not start with `ready`');
  } catch (err) {
    finish();
    throw controller.signal.aborted ? controller.signal.reason : err;
  }

  const done = (async () => {
    try {
      for (let line = await next(); line !== undefined; line = await next()) {
        if (line.type === 'ready' || line.type === 'keepalive') continue;
        const { type, path, fileType } = line;
        await onEvent(
          line.oldPath === undefined ? { type, path, fileType } : { type, path, oldPath: line.oldPath, fileType },
        );
      }
      if (!controller.signal.aborted) throw new UnavailableError('UNAVAILABLE', 'the watch stream ended unexpectedly');
    } catch (err) {
      if (!controller.signal.aborted) opts.onError?.(err as Error);
    } finally {
      finish();
    }
  })();
  return new WatchHandle(controller, done);
}
