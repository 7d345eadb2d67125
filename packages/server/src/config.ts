import { Isolation } from '@paddock/protocol';
import type { PoolTarget } from './core/warm-pool.js';
import { type EgressProxyConfig, loadEgressProxyConfig } from './network/egress-proxy/egress-setup.js';
import { loadNetworkConfig, type NetworkConfig, type NetworkConfigOverrides } from './network/network-config.js';

/** Every server setting, with its embedded default. One loader: defaults ← env ← explicit options. */
export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  /** When set, this key is accepted (stored hashed); otherwise a key is generated on first start. */
  apiKey: string | undefined;
  /**
   * Format of the key generated on first start (`PADDOCK_API_KEY_FORMAT`): `paddock` (`pdk_` + 32
   * hex, default) or `e2b` (`e2b_` + 40 hex, which the E2B SDKs accept, Python's format check included).
   */
  apiKeyFormat: 'paddock' | 'e2b';
  defaultIsolation: Isolation;
  /** Ready spares kept per template/isolation. */
  pool: PoolTarget[];
  logLevel: string;
  /** Parent of every sandbox's cgroups (per v1 controller). */
  cgroupParent: string;
  /** The largest `count` one fork may ask for (`PADDOCK_MAX_FORK_COUNT`, default 16). */
  maxForkCount: number;
  /** Exposed ports live at `{port}-{id}.{domain}` (`PADDOCK_DOMAIN`; default `localhost:<port>`). */
  domain: string | undefined;
  /** The longest lifetime of a port URL's token (`PADDOCK_MAX_PORT_TOKEN_MS`, default 7 days). */
  maxPortTokenMs: number;
  /** Sandbox networks: subnet, default egress, uplink, DNS, caps (see network/network-config.ts). */
  network: NetworkConfig;
  /** The egress proxy: extra upstream CAs, connection cap (see network/egress-proxy/egress-setup.ts). */
  egressProxy: EgressProxyConfig;
  /**
   * Registries (`host[:port]`) that builds reach over plain HTTP or without checking TLS
   * (`PADDOCK_INSECURE_REGISTRIES`, comma-separated), like Docker's `insecure-registries`: for a
   * private registry whose image references cannot say so (E2B's `fromImage`, Dockerfile FROM).
   */
  insecureRegistries: string[];
  /** Failpoints to die at (`PADDOCK_FAILPOINTS`, comma-separated; tests only, see failpoints.ts). */
  failpoints: string[];
}

export type ConfigOverrides = Partial<Omit<ServerConfig, 'pool' | 'network' | 'egressProxy'>> & {
  network?: NetworkConfigOverrides;
  egressProxy?: Partial<EgressProxyConfig>;
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

function apiKeyFormatOf(raw: string): 'paddock' | 'e2b' {
  if (raw !== 'paddock' && raw !== 'e2b') throw new Error(`API key format must be 'paddock' or 'e2b', got '${raw}'`);
  return raw;
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
    apiKeyFormat: apiKeyFormatOf(overrides.apiKeyFormat ?? (env.PADDOCK_API_KEY_FORMAT || 'paddock')),
    defaultIsolation: parsedIsolation.data,
    pool: [
      { request: { template: 'base', isolation: 'container' }, size: poolSize },
      { request: { template: 'base', isolation: 'gvisor' }, size: gvisorPoolSize },
      { request: { template: 'code-interpreter', isolation: 'container' }, size: codePoolSize },
    ].filter((t) => t.size > 0) as PoolTarget[],
    logLevel: overrides.logLevel ?? env.PADDOCK_LOG_LEVEL ?? 'info',
    cgroupParent,
    maxForkCount: overrides.maxForkCount ?? envInt(env, 'PADDOCK_MAX_FORK_COUNT') ?? 16,
    domain: overrides.domain ?? (env.PADDOCK_DOMAIN || undefined),
    maxPortTokenMs: overrides.maxPortTokenMs ?? envInt(env, 'PADDOCK_MAX_PORT_TOKEN_MS') ?? 7 * 24 * 3_600_000,
    network: loadNetworkConfig(overrides.network, env),
    egressProxy: loadEgressProxyConfig(overrides.egressProxy, env),
    insecureRegistries:
      overrides.insecureRegistries ??
      (env.PADDOCK_INSECURE_REGISTRIES ?? '')
        .split(',')
        .map((r) => r.trim())
        .filter((r) => r !== ''),
    failpoints: overrides.failpoints ?? (env.PADDOCK_FAILPOINTS ?? '').split(',').filter((n) => n !== ''),
  };
}
