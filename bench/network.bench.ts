/**
 * Sandbox network cost. Run: `npm run bench:network` (root; after set-up).
 * 1. The network layer alone (SandboxNetworkService.up/down, crun sandbox, egress `open`):
 *    nft chains + netns + veth + addresses (+ resolver) per sandbox, and the teardown.
 * 2. create → first command through the SDK, egress `none` vs `open` (both have a netns and a
 *    veth; `open` adds the resolver), and the same for gVisor (`none` = no interface at all,
 *    `open` = veth + `--network=host`).
 * No uplink: nothing leaves the host. Prints a markdown table; JSON to bench/results/.
 */
import { join } from 'node:path';
import { Sandbox } from '@paddock/sdk';
import { silentLogger } from '../packages/server/src/core/logger.js';
import { loadNetworkConfig } from '../packages/server/src/network/network-config.js';
import { NoopEgressProxy } from '../packages/server/src/network/noop-egress-proxy.js';
import { SandboxNetworkService } from '../packages/server/src/network/sandbox-networks.js';
import { SqliteStore } from '../packages/server/src/store/sqlite-store.js';
import {
  BENCH_API_KEY as API_KEY,
  BENCH_CGROUP_PARENT as CGROUP_PARENT,
  BENCH_DATA_DIR as DATA_DIR,
  startBenchServer,
} from './bench-server.js';
import { fmtMs, percentile, printTable, saveResult, timeIt } from './stats.js';

const N = Number(process.env.BENCH_N ?? 20);
const SUBNET = process.env.PADDOCK_BENCH_SUBNET ?? '10.92.0.0/16';
const network = { uplink: 'none', dnsUpstreams: ['127.0.0.1'], subnet: SUBNET };

const rows: string[][] = [];
const results: Record<string, number[]> = {};
const record = (name: string, runtime: string, times: number[]) => {
  results[`${name} (${runtime})`] = times;
  rows.push([name, runtime, fmtMs(percentile(times, 50)), fmtMs(percentile(times, 95))]);
};

// 1. The network layer alone, on its own table (the server below makes its own).
const benchStore = new SqliteStore(join(DATA_DIR, 'network-bench.db'));
const networks = new SandboxNetworkService({
  config: loadNetworkConfig(network),
  dataDir: join(DATA_DIR, 'network-bench'),
  store: benchStore.networks,
  cgroupParent: `${CGROUP_PARENT}-netonly`,
  proxy: new NoopEgressProxy(),
  logger: silentLogger,
});
await networks.start(new Set());
const up: number[] = [];
const down: number[] = [];
try {
  for (let i = 0; i < N; i++) {
    const id = `bench${String(i).padStart(15, '0')}`;
    up.push(await timeIt(() => networks.up(id, 'container', { egress: 'open', allow: [], bandwidthMbit: 0 })));
    down.push(await timeIt(() => networks.down(id)));
  }
} finally {
  await networks.close();
  benchStore.close();
}
record('network up (nft + netns + veth + resolver)', 'crun', up);
record('network down', 'crun', down);

// 2. create → first command through the whole stack.
const server = await startBenchServer({
  network,
});
const conn = { apiUrl: server.url, apiKey: API_KEY };
try {
  for (const isolation of ['container', 'gvisor'] as const) {
    for (const egress of ['none', 'open'] as const) {
      const times: number[] = [];
      const runs = isolation === 'gvisor' ? Math.min(N, 8) : N;
      for (let i = 0; i < runs; i++) {
        let sbx: Sandbox | undefined;
        times.push(
          await timeIt(async () => {
            sbx = await Sandbox.create({ ...conn, isolation, network: { egress } });
            await sbx.commands.run('true');
          }),
        );
        await sbx?.kill();
      }
      record(`create → first command, egress ${egress}`, isolation === 'container' ? 'crun' : 'gVisor', times);
    }
  }
} finally {
  await server.close();
}
printTable(rows, ['measure', 'runtime', 'p50', 'p95']);
saveResult(`network-${Date.now()}.json`, { date: new Date().toISOString(), n: N, results });
