import { readFileSync } from 'node:fs';

/**
 * Mirrors `AgentConfig` of the server's `runtime/runtime.ts`, which the driver writes to
 * `PADDOCK_CONFIG`. Checked by hand rather than with zod: the config is read before the
 * agent listens, and zod is loaded only after (see main.ts). Extra fields are ignored so a
 * newer server can add some.
 */
export interface AgentConfig {
  env: Record<string, string>;
  defaultUser: string;
  workdir: string;
}

/** Reads and checks the config file; throws naming the file and the bad field. */
export function loadConfig(path: string): AgentConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the agent config ${path}: ${(err as Error).message}`);
  }
  const bad = (field: string, what: string) => new Error(`bad agent config ${path}: \`${field}\` must be ${what}`);
  if (typeof raw !== 'object' || raw === null) throw bad('(root)', 'an object');
  const { env = {}, defaultUser, workdir } = raw as Record<string, unknown>;
  if (typeof env !== 'object' || env === null || Object.values(env).some((v) => typeof v !== 'string')) {
    throw bad('env', 'an object of strings');
  }
  if (typeof defaultUser !== 'string' || defaultUser === '') throw bad('defaultUser', 'a non-empty string');
  if (typeof workdir !== 'string' || workdir === '') throw bad('workdir', 'a non-empty string');
  return { env: env as Record<string, string>, defaultUser, workdir };
}
