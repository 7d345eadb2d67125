import { readFileSync } from 'node:fs';

/**
 * Mirrors `AgentConfig` of the server's `core/seams/runtime.ts`, which the driver writes to
 * `PADDOCK_CONFIG`. Checked by hand rather than with zod: the config is read before the
 * agent listens, and zod is loaded only after (see main.ts). Extra fields are ignored so a
 * newer server can add some.
 */
export interface AgentConfig {
  env: Record<string, string>;
  defaultUser: string;
  workdir: string;
  /** Output retained per process (bytes); default 4 MiB. */
  processOutputBytes?: number;
  /** Finished processes kept listed; default 64. */
  maxFinishedProcesses?: number;
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
  const { env = {}, defaultUser, workdir, processOutputBytes, maxFinishedProcesses } = raw as Record<string, unknown>;
  if (typeof env !== 'object' || env === null || Object.values(env).some((v) => typeof v !== 'string')) {
    throw bad('env', 'an object of strings');
  }
  if (typeof defaultUser !== 'string' || defaultUser === '') throw bad('defaultUser', 'a non-empty string');
  if (typeof workdir !== 'string' || workdir === '') throw bad('workdir', 'a non-empty string');
  const config: AgentConfig = { env: env as Record<string, string>, defaultUser, workdir };
  for (const [field, value] of Object.entries({ processOutputBytes, maxFinishedProcesses })) {
    if (value === undefined) continue;
    if (!Number.isInteger(value) || (value as number) < 1) throw bad(field, 'a positive integer');
    config[field as 'processOutputBytes' | 'maxFinishedProcesses'] = value as number;
  }
  return config;
}
