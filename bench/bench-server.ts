import { Sandbox } from '@paddock/sdk';
import { type ConfigOverrides, type RunningServer, startServer } from '@paddock/server';

/** Where benches keep their data (templates are reused from the test suite's by default). */
export const BENCH_DATA_DIR = process.env.PADDOCK_BENCH_DATA_DIR ?? '/var/tmp/paddock-test/data';
export const BENCH_API_KEY = 'pdk_bench_0123456789abcdef0123456789abcdef';
export const BENCH_CGROUP_PARENT = process.env.PADDOCK_BENCH_CGROUP_PARENT ?? 'paddock-bench';

/**
 * A server for one benchmark: any free port, no warm pools unless asked, and no uplink, so
 * nothing a benchmark runs can leave the host or change its interfaces (a bench that needs
 * egress passes its own fixture's uplink).
 */
export function startBenchServer(overrides: ConfigOverrides = {}): Promise<RunningServer> {
  return startServer({
    port: 0,
    dataDir: BENCH_DATA_DIR,
    apiKey: BENCH_API_KEY,
    cgroupParent: BENCH_CGROUP_PARENT,
    logLevel: 'warn',
    poolSize: 0,
    gvisorPoolSize: 0,
    codePoolSize: 0,
    ...overrides,
    network: { uplink: 'none', dnsUpstreams: ['127.0.0.1'], ...overrides.network },
  });
}

/** Connection options for the SDK against a bench server. */
export interface BenchConnection {
  apiUrl: string;
  apiKey: string;
}

/**
 * Runs `fn` against a fresh bench server, then kills whatever sandboxes are still live on it
 * (so the next measurement starts from an empty host) and closes it, whether `fn` threw or not.
 */
export async function withBenchServer<T>(
  overrides: ConfigOverrides,
  fn: (server: RunningServer, conn: BenchConnection) => Promise<T>,
): Promise<T> {
  const server = await startBenchServer(overrides);
  const conn = { apiUrl: server.url, apiKey: BENCH_API_KEY };
  try {
    return await fn(server, conn);
  } finally {
    for (const s of await Sandbox.list(conn)) await Sandbox.kill(s.id, conn);
    await server.close();
  }
}
