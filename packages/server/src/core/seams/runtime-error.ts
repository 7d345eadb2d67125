/**
 * What went wrong in a runtime call, as a small closed set (containerd's errdefs): callers
 * decide on the kind, never on the message.
 *
 * - `not-found`: no sandbox with this id (or it has no such thing, e.g. no checkpoint).
 * - `conflict`: the sandbox exists but its state forbids the call (an id already in use; a
 *   host socket in the sandbox that a checkpoint cannot keep).
 * - `not-supported`: this runtime lacks the capability (`capabilities()` says so).
 * - `timeout`: the runtime's own deadline passed (the agent did not answer in time).
 * - `failed`: anything else: a runtime binary failed, the sandbox died while starting.
 *
 * There is no `aborted` kind: a call cancelled through its `AbortSignal` rejects with the
 * signal's own reason, as every other cancellable API does.
 */
export type RuntimeErrorKind = 'not-found' | 'conflict' | 'not-supported' | 'timeout' | 'failed';

/** An error a `Runtime` throws; `details` are facts for the caller's own error (ids, paths). */
export class RuntimeError extends Error {
  constructor(
    readonly kind: RuntimeErrorKind,
    message: string,
    options: { details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RuntimeError';
    this.details = options.details ?? {};
  }

  readonly details: Record<string, unknown>;
}

/** Whether `error` is a RuntimeError of `kind`. */
export function isRuntimeError(error: unknown, kind?: RuntimeErrorKind): error is RuntimeError {
  return error instanceof RuntimeError && (kind === undefined || error.kind === kind);
}

/**
 * `error` as what a runtime call rejects with: once `signal` is aborted, the signal's reason
 * (whatever step noticed it first), a RuntimeError keeps its kind, anything else becomes `failed` with the same message (callers
 * show it) and the original as the cause.
 */
export function asRuntimeError(error: unknown, signal?: AbortSignal): unknown {
  if (signal?.aborted) return signal.reason;
  if (error instanceof RuntimeError) return error;
  return new RuntimeError('failed', error instanceof Error ? error.message : String(error), { cause: error });
}

/**
 * Runs one runtime call: refuses at once when `signal` is already aborted, and rejects with
 * what `asRuntimeError` makes of any failure.
 */
export async function runtimeCall<T>(signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
  signal?.throwIfAborted();
  try {
    return await work();
  } catch (error) {
    throw asRuntimeError(error, signal);
  }
}
