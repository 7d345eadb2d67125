import { Isolation } from '@paddock/protocol';
import type { PoolTarget } from './core/warm-pool.js';

/** Every server setting, with its embedded default. One loader: defaults ← env ← explicit options. */
export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  /** When set, this key is accepted (stored hashed); otherwise a key is generated on first start. */
  apiKey: string | undefined;
  defaultIsolation: Isolation;
  /** Ready spares kept per template/isolation. */
  pool: PoolTarget[];
  logLevel: string;
  /** Parent of every sandbox's cgroups (per v1 controller). */
  cgroupParent: string;
  /** The largest `count` one fork may ask for (`PADDOCK_MAX_FORK_COUNT`, default 16). */
  maxForkCount: number;
}

export type ConfigOverrides = Partial<Omit<ServerConfig, 'pool'>> & {
  poolSize?: number;
  gvisorPoolSize?: number;
  /** Ready `code-interpreter` sandboxes, each with its Python kernel started (`PADDOCK_CODE_POOL_SIZE`). */
  codePoolSize?: number;
};

function envInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got '${raw}'`);
  return value;
}

export function loadConfig(overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const isolation = overrides.defaultIsolation ?? env.PADDOCK_DEFAULT_ISOLATION ?? 'container';
  const parsedIsolation = Isolation.safeParse(isolation);
  if (!parsedIsolation.success)
    throw new Error(`default isolation must be 'container' or 'gvisor', got '${isolation}'`);
  const port = overrides.port ?? envInt(env, 'PADDOCK_PORT') ?? 7070;
  if (port < 0 || port > 65_535) throw new Error(`port must be 0-65535 (0 = any free port), got ${port}`);
  const poolSize = overrides.poolSize ?? envInt(env, 'PADDOCK_POOL_SIZE') ?? 2;
  const gvisorPoolSize = overrides.gvisorPoolSize ?? envInt(env, 'PADDOCK_GVISOR_POOL_SIZE') ?? 1;
  const codePoolSize = overrides.codePoolSize ?? envInt(env, 'PADDOCK_CODE_POOL_SIZE') ?? 1;
  const cgroupParent = overrides.cgroupParent ?? env.PADDOCK_CGROUP_PARENT ?? 'paddock';
  if (!/^[a-z0-9_-]+$/.test(cgroupParent))
    throw new Error(`cgroup parent must match [a-z0-9_-]+, got '${cgroupParent}'`);
  return {
    host: overrides.host ?? env.PADDOCK_HOST ?? '127.0.0.1',
    port,
    dataDir: overrides.dataDir ?? env.PADDOCK_DATA_DIR ?? '/var/lib/paddock',
    apiKey: overrides.apiKey ?? (env.PADDOCK_API_KEY || undefined),
    defaultIsolation: parsedIsolation.data,
    pool: [
      { request: { template: 'base', isolation: 'container' }, size: poolSize },
      { request: { template: 'base', isolation: 'gvisor' }, size: gvisorPoolSize },
      { request: { template: 'code-interpreter', isolation: 'container' }, size: codePoolSize },
    ].filter((t) => t.size > 0) as PoolTarget[],
    logLevel: overrides.logLevel ?? env.PADDOCK_LOG_LEVEL ?? 'info',
    cgroupParent,
    maxForkCount: overrides.maxForkCount ?? envInt(env, 'PADDOCK_MAX_FORK_COUNT') ?? 16,
  };
}
