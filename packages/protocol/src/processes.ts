import { z } from 'zod';
import { EXIT_FIELDS, RunCommandRequest } from './commands.js';

/**
 * Body of `POST /v1/sandboxes/:id/processes` (and the agent's `POST /processes`): a
 * command request plus `background`. A background process answers at once with its
 * {@link ProcessInfo}, keeps running when clients disconnect, keeps its stdin open (until
 * `POST …/stdin` with `eof`), and has no time limit unless `timeoutMs` is given. A
 * foreground one streams {@link ProcessEvent}s and is killed when that stream is closed.
 */
export const StartProcessRequest = RunCommandRequest.extend({
  background: z.boolean().optional(),
  /**
   * Background only: answer with the process's event stream (as `GET …/events`) instead of
   * its info, in the same round trip; the process still outlives the stream.
   */
  follow: z.boolean().optional(),
  /**
   * Close stdin once `stdinBase64` (if any) is written. Default: foreground yes, background
   * no (it stays open for `POST …/stdin`).
   */
  closeStdin: z.boolean().optional(),
}).refine((r) => r.follow !== true || r.background === true, {
  message:
    'only a background process is followed (a foreground one streams anyway): set `background: true` or drop `follow`',
  path: ['follow'],
});
export type StartProcessRequest = z.infer<typeof StartProcessRequest>;

/** Signals a process may be sent (`POST …/processes/:pid/signal`). */
export const SIGNAL_NAMES = [
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGKILL',
  'SIGUSR1',
  'SIGUSR2',
  'SIGTERM',
  'SIGCONT',
  'SIGSTOP',
  'SIGTSTP',
  'SIGWINCH',
] as const;
export const SignalName = z.enum(SIGNAL_NAMES, {
  error: () => `must be one of ${SIGNAL_NAMES.join(', ')}`,
});
export type SignalName = z.infer<typeof SignalName>;

/**
 * Whom a signal reaches: `process` the command's own process, `group` its process group,
 * `tree` (default) everything it started, daemons that left the group included.
 */
export const SignalScope = z.enum(['process', 'group', 'tree']);
export type SignalScope = z.infer<typeof SignalScope>;

/** Body of `POST …/processes/:pid/signal`. Defaults: `SIGKILL` to the `tree`. */
export const SignalProcessRequest = z.strictObject({
  signal: SignalName.optional(),
  scope: SignalScope.optional(),
});
export type SignalProcessRequest = z.infer<typeof SignalProcessRequest>;

/** JSON body of `POST …/processes/:pid/stdin` (a raw `application/octet-stream` body also works). */
export const ProcessStdinRequest = z.strictObject({
  /** Bytes to write, base64-encoded. */
  dataBase64: z
    .string()
    .max(64 * 1_048_576)
    .optional(),
  /** Close stdin after the bytes (the process sees EOF). */
  eof: z.boolean().optional(),
});
export type ProcessStdinRequest = z.infer<typeof ProcessStdinRequest>;

/**
 * A process the agent started (listed until removed from the bounded list of finished
 * ones). `endOffset` is the combined-output offset the next byte will get.
 */
export const ProcessInfo = z.object({
  /** Opaque id, lowercase letters and digits. */
  id: z.string(),
  pid: z.number(),
  /** The shell line, or the argv joined by spaces. */
  cmd: z.string(),
  cwd: z.string(),
  user: z.string(),
  /** ISO 8601. */
  startedAt: z.string(),
  background: z.boolean(),
  running: z.boolean(),
  exitCode: z.number().optional(),
  signal: z.string().optional(),
  timedOut: z.boolean().optional(),
  endOffset: z.number(),
});
export type ProcessInfo = z.infer<typeof ProcessInfo>;

export const ProcessList = z.object({ processes: z.array(ProcessInfo) });
export type ProcessList = z.infer<typeof ProcessList>;

/**
 * One line of a process's NDJSON event stream. Offsets count bytes of the process's
 * combined output (stdout and stderr interleaved in arrival order, one sequence from 0):
 * a chunk's `offset` is that of its first byte; `exit.offset` is the total output size.
 * `truncated` says the bytes `[fromOffset, toOffset)` fell out of the retained buffer
 * before this reader got them. The stream opens with `start` and ends with `exit` or `error`.
 */
export const ProcessEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('start'), id: z.string(), pid: z.number() }),
  z.object({ type: z.literal('stdout'), data: z.string(), offset: z.number() }),
  z.object({ type: z.literal('stderr'), data: z.string(), offset: z.number() }),
  z.object({ type: z.literal('truncated'), fromOffset: z.number(), toOffset: z.number() }),
  z.object({ type: z.literal('exit'), ...EXIT_FIELDS, offset: z.number() }),
  z.object({
    type: z.literal('error'),
    error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
  }),
]);
export type ProcessEvent = z.infer<typeof ProcessEvent>;
