import { z } from 'zod';
import { CommandEnv } from './env.js';

/** Bounds of a terminal's size, in character cells. */
export const PTY_LIMITS = {
  cols: { min: 1, max: 1_000 },
  rows: { min: 1, max: 1_000 },
  /** Output each session keeps for clients that (re)connect. */
  scrollbackBytes: 256 * 1024,
  /** Largest body of one `input` call. */
  inputBytes: 1_048_576,
} as const;

/** PTY session ids: lowercase letters and digits. */
export const PTY_ID = /^[a-z0-9]{1,64}$/;

/** A terminal size in character cells; both 1 to 1000. */
export const PtySize = z.strictObject({
  cols: z.int().min(PTY_LIMITS.cols.min).max(PTY_LIMITS.cols.max),
  rows: z.int().min(PTY_LIMITS.rows.min).max(PTY_LIMITS.rows.max),
});
export type PtySize = z.infer<typeof PtySize>;

/**
 * Body of `POST /v1/sandboxes/:id/pty` (and of the agent's `POST /pty`): starts a program on a
 * new pseudo-terminal with `TERM=xterm-256color`. Without `cmd` it runs the user's login shell.
 */
export const CreatePtyRequest = z.strictObject({
  cols: PtySize.shape.cols,
  rows: PtySize.shape.rows,
  /** A shell command line to run instead of the login shell (run with `bash -c`). */
  cmd: z.string().min(1).max(1_048_576).optional(),
  /** Absolute working directory; defaults to the template's workdir or the user's home. */
  cwd: z.string().min(1).max(4_096).optional(),
  env: CommandEnv.optional(),
  /** User name or numeric uid inside the sandbox; default `user`. */
  user: z.string().min(1).max(64).optional(),
});
export type CreatePtyRequest = z.infer<typeof CreatePtyRequest>;

/** Answer of `POST …/pty`. */
export const PtyCreated = z.object({ id: z.string(), pid: z.number() });
export type PtyCreated = z.infer<typeof PtyCreated>;

/** A PTY session as `GET …/pty` lists it. Exited sessions stay listed for a while with their exit code. */
export const PtyInfo = z.object({
  id: z.string(),
  pid: z.number(),
  cols: z.number(),
  rows: z.number(),
  user: z.string(),
  /** The command line given at create; absent for a login shell. */
  cmd: z.string().optional(),
  createdAt: z.string(),
  /** Set once the program exited. */
  exitCode: z.number().optional(),
  /** Bytes of output produced so far (the offset the next output byte gets). */
  outputBytes: z.number(),
});
export type PtyInfo = z.infer<typeof PtyInfo>;

/** Body of `GET …/pty`. */
export const PtyList = z.object({ sessions: z.array(PtyInfo) });
export type PtyList = z.infer<typeof PtyList>;

/**
 * One line of the NDJSON stream of `GET …/pty/:ptyId/output`: one `start` (sent at once, so
 * a client attached to a quiet program knows the stream is open), `data` chunks, one `exit`.
 * `data` is base64 (a terminal speaks bytes, not text); `offset` counts the session's output
 * bytes before this chunk, so a gap between chunks means older output was no longer kept.
 */
export const PtyEvent = z.discriminatedUnion('type', [
  /** `offset`: where this stream's output starts (`fromOffset`, or the oldest byte kept). */
  z.object({ type: z.literal('start'), pid: z.number(), offset: z.number() }),
  z.object({ type: z.literal('data'), data: z.string(), offset: z.number() }),
  z.object({
    type: z.literal('exit'),
    exitCode: z.number(),
    /** Set when a signal ended the program, e.g. `SIGKILL`. */
    signal: z.string().optional(),
  }),
  z.object({
    type: z.literal('error'),
    error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
  }),
]);
export type PtyEvent = z.infer<typeof PtyEvent>;

/**
 * Query of `GET …/pty/:ptyId/output`. Without `fromOffset` the stream starts at the oldest
 * output still kept (the recent screen), which is what a reconnecting terminal wants.
 */
export const PtyOutputQuery = z.strictObject({
  fromOffset: z.coerce.number().int().min(0).optional(),
});
export type PtyOutputQuery = z.infer<typeof PtyOutputQuery>;
