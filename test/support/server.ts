import { after, before } from 'node:test';
import { Sandbox } from '@paddock/sdk';
import { type ConfigOverrides, type RunningServer, startServer } from '@paddock/server';
import { TEST_API_KEY, TEST_CGROUP_PARENT, TEST_DATA_DIR, TEST_SUBNET } from './env.js';

/** Connection options for the SDK against a test server. */
export interface TestConnection {
  apiUrl: string;
  apiKey: string;
}

/**
 * Starts the whole server in this process on a free loopback port, against the suite's
 * data dir. Pool sizes default to 0 so tests control exactly which sandboxes exist.
 */
export async function startTestServer(
  overrides: {
    poolSize?: number;
    gvisorPoolSize?: number;
    codePoolSize?: number;
    apiKey?: string;
    /** Sandbox networks; the test default has no uplink (nothing leaves the host) and the suite's own subnet (TEST_SUBNET). */
    network?: ConfigOverrides['network'];
    /** The egress proxy (e.g. `caFile` of a fake internet's HTTPS servers). */
    egressProxy?: ConfigOverrides['egressProxy'];
    /** Registries builds may reach over plain HTTP (a test registry's `host`). */
    insecureRegistries?: string[];
  } = {},
): Promise<{ server: RunningServer; conn: TestConnection }> {
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: TEST_DATA_DIR,
    apiKey: overrides.apiKey ?? TEST_API_KEY,
    cgroupParent: TEST_CGROUP_PARENT,
    poolSize: overrides.poolSize ?? 0,
    gvisorPoolSize: overrides.gvisorPoolSize ?? 0,
    codePoolSize: overrides.codePoolSize ?? 0,
    logLevel: process.env.PADDOCK_TEST_LOG_LEVEL ?? 'warn',
    network: {
      uplink: 'none',
      // Loopback, where nothing answers DNS: no lookup of a test ever leaves the machine.
      dnsUpstreams: ['127.0.0.1'],
      subnet: TEST_SUBNET,
      ...overrides.network,
    },
    ...(overrides.egressProxy ? { egressProxy: overrides.egressProxy } : {}),
    ...(overrides.insecureRegistries ? { insecureRegistries: overrides.insecureRegistries } : {}),
  });
  return { server, conn: { apiUrl: server.url, apiKey: overrides.apiKey ?? TEST_API_KEY } };
}

/** Polls `check` until it returns a value other than undefined, failing after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/**
 * One in-process server for a test file (or a describe block): started before its tests, closed
 * after them, with every sandbox made through `sandbox()` killed first, then `beforeClose` run
 * (for what a suite made some other way: forks, volumes, snapshots) while the server still answers.
 */
export function useTestServer(
  defaults: Parameters<typeof Sandbox.create>[0] = {},
  hooks: { beforeClose?: (conn: TestConnection) => Promise<void> } = {},
): {
  readonly conn: TestConnection;
  sandbox(opts?: Parameters<typeof Sandbox.create>[0]): Promise<Sandbox>;
} {
  let server: RunningServer | undefined;
  let conn: TestConnection | undefined;
  const made: Sandbox[] = [];
  before(async () => {
    ({ server, conn } = await startTestServer());
  });
  after(async () => {
    await Promise.allSettled(made.map((s) => s.kill()));
    try {
      if (conn && hooks.beforeClose) await hooks.beforeClose(conn);
    } finally {
      await server?.close();
    }
  });
  const started = (): TestConnection => {
    if (!conn) throw new Error('the test server starts in before(): use conn inside tests');
    return conn;
  };
  return {
    get conn() {
      return started();
    },
    // An arrow, not a method: it may be destructured.
    sandbox: async (opts = {}) => {
      const sbx = await Sandbox.create({ ...started(), ...defaults, ...opts });
      made.push(sbx);
      return sbx;
    },
  };
}
