import { z } from 'zod';

/** Name of an environment variable: the rule of POSIX shells, which bash enforces. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The `env` of a command, PTY or code run: variables set for it, over the sandbox's. */
export const CommandEnv = z.record(
  z.string().regex(ENV_NAME, 'env names must match [A-Za-z_][A-Za-z0-9_]*'),
  z.string().max(131_072),
);
export type CommandEnv = z.infer<typeof CommandEnv>;
