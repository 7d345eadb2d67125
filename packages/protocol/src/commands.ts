import { z } from 'zod';
import { CommandEnv } from './env.js';
import { LIMITS } from './sandbox.js';

/**
 * Body of `POST /v1/sandboxes/:id/commands` (and of the agent's `POST /exec`).
 * Give either `cmd` (a shell line) or `argv` (run directly).
 */
export const RunCommandRequest = z
  .strictObject({
    /** A shell command line, run with `/bin/bash -c` (or `/bin/sh -c` where bash is missing). */
    cmd: z.string().min(1).max(1_048_576).optional(),
    /** A program and its arguments, run without a shell. */
    argv: z.array(z.string().max(1_048_576)).min(1).max(65_536).optional(),
    /** Absolute working directory; defaults to the user's home (or `/`). */
    cwd: z.string().min(1).max(4_096).optional(),
    env: CommandEnv.optional(),
    /** User name or numeric uid inside the sandbox; default `user`. */
    user: z.string().min(1).max(64).optional(),
    /** Kill the command after this long; 0 means no limit. Default 60 s. */
    timeoutMs: z.int().min(0).max(LIMITS.commandTimeoutMs.max).optional(),
    /** Bytes written to the command's stdin, base64-encoded; stdin is closed after them. */
    stdinBase64: z
      .string()
      .max(64 * 1_048_576)
      .optional(),
  })
  .refine((r) => (r.cmd === undefined) !== (r.argv === undefined), {
    message: 'give exactly one of `cmd` (a shell string) or `argv` (a program and its arguments)',
    path: ['cmd'],
  });
export type RunCommandRequest = z.infer<typeof RunCommandRequest>;

/** How a command or process ended: the fields of every `exit` event. */
export const EXIT_FIELDS = {
  exitCode: z.number(),
  /** Set when a signal ended the command, e.g. `SIGKILL`. */
  signal: z.string().optional(),
  /** True when the command's `timeoutMs` ran out and it was killed. */
  timedOut: z.boolean().optional(),
  /** True when the kernel's OOM killer ended it (the sandbox's memory limit was hit). */
  oomKilled: z.boolean().optional(),
};

/**
 * One line of the NDJSON stream a command answers with. Output chunks are base64 so that
 * any bytes survive; `offset` counts the bytes of that stream sent before this chunk.
 */
export const CommandEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('start'), pid: z.number() }),
  z.object({ type: z.literal('stdout'), data: z.string(), offset: z.number() }),
  z.object({ type: z.literal('stderr'), data: z.string(), offset: z.number() }),
  z.object({ type: z.literal('exit'), ...EXIT_FIELDS }),
  z.object({
    type: z.literal('error'),
    error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
  }),
]);
export type CommandEvent = z.infer<typeof CommandEvent>;
