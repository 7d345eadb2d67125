import { z } from 'zod';

/** Name of an environment variable: the rule of POSIX shells, which bash enforces. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Bounds of one variable: Linux refuses a single `NAME=value` string over 128 KiB (MAX_ARG_STRLEN). */
export const ENV_LIMITS = { nameChars: 256, valueChars: 131_072 } as const;

/**
 * Why `name=value` cannot be an environment variable, or undefined when it can. The process
 * environment is a list of NUL-terminated `NAME=value` strings: a NUL would cut the value
 * (execve refuses it outright), an `=` or empty name would change which variable is set.
 */
export function envEntryProblem(name: string, value: string): string | undefined {
  const shown = JSON.stringify(name);
  if (!ENV_NAME.test(name) || name.length > ENV_LIMITS.nameChars) {
    return `env name ${shown} is not valid: names match [A-Za-z_][A-Za-z0-9_]* (≤ ${ENV_LIMITS.nameChars} characters; no "=", NUL or empty names)`;
  }
  if (value.includes('\0')) return `env value of ${shown} contains a NUL character: environment values cannot hold NUL`;
  if (value.length > ENV_LIMITS.valueChars) {
    return `env value of ${shown} is longer than ${ENV_LIMITS.valueChars} characters`;
  }
  return undefined;
}

/**
 * Environment variables, as every request that takes them accepts them (sandbox create, commands,
 * processes, PTYs, code runs, the E2B facade): names by {@link ENV_NAME}, values without NUL. A
 * bad entry is an issue at its own key, whose message names the key.
 *
 * @example
 * ```ts
 * EnvVars.parse({ PATH: '/usr/bin', TOKEN: 'abc' })
 * ```
 */
export const EnvVars = z.record(z.string(), z.string('env values must be strings')).superRefine((env, ctx) => {
  for (const [name, value] of Object.entries(env)) {
    const problem = envEntryProblem(name, value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [name], message: problem });
  }
});
export type EnvVars = z.infer<typeof EnvVars>;

/** The `env` of a command, PTY or code run: variables set for it, over the sandbox's. */
export const CommandEnv = EnvVars;
export type CommandEnv = z.infer<typeof CommandEnv>;
