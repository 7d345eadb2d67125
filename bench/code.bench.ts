/**
 * Code interpreter benchmark: `1+1` round trip on a warm context, first runCode after
 * Sandbox.create (from the warm pool, and without one), a matplotlib chart end to end.
 *
 *   npm run bench:code            # BENCH_N=200 round trips, BENCH_FIRST_N=5 creates
 *
 * Needs root and the built `code-interpreter` template (scripts/setup.sh). Prints a
 * markdown table and writes bench/results/code.{md,json}.
 */
import { execFileSync } from 'node:child_process';
import { Sandbox } from '@paddock/sdk';
import type { RunningServer } from '@paddock/server';
import { AgentClient } from '../packages/server/src/agent-client/agent-client.js';
import { CodeClient } from '../packages/server/src/agent-client/code-client.js';
import { withBenchServer } from './bench-server.js';
import { fmtMs, markdownTable, percentile, printTable, saveResult, timeIt } from './stats.js';

const N = Number(process.env.BENCH_N ?? 200);
const FIRST_N = Number(process.env.BENCH_FIRST_N ?? 5);
const CHART_N = Number(process.env.BENCH_CHART_N ?? 10);
const WARM_WAIT_MS = 120_000;

type Conn = { apiUrl: string; apiKey: string };

/**
 * Waits until the pool holds a spare whose default Python kernel is up: the state a user's
 * create finds on a server that has been idle for a few seconds.
 */
async function waitForWarmSpare(server: RunningServer): Promise<void> {
  const store = (server.service as unknown as { deps: { store: PooledStore } }).deps.store;
  const runtime = server.service.runtimeFor('container');
  const deadline = Date.now() + WARM_WAIT_MS;
  for (;;) {
    for (const spare of store.listSandboxes({ pooled: true, states: ['running'] })) {
      const agent = new AgentClient(runtime.agentSocket(spare.id));
      try {
        const { contexts } = await new CodeClient(agent).listContexts();
        if (contexts.some((c) => c.id === 'python' && c.running)) return;
      } catch {
        // agent still loading
      } finally {
        agent.close();
      }
    }
    if (Date.now() > deadline) throw new Error(`no warm code-interpreter spare within ${WARM_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
interface PooledStore {
  listSandboxes(filter: { pooled: boolean; states: string[] }): { id: string }[];
}

async function firstRun(conn: Conn): Promise<{ createMs: number; firstRunMs: number; totalMs: number }> {
  const started = performance.now();
  const sbx = await Sandbox.create({ ...conn, template: 'code-interpreter' });
  const created = performance.now();
  try {
    const ex = await sbx.runCode('1+1');
    if (ex.text !== '2') throw new Error(`1+1 gave ${ex.text} ${JSON.stringify(ex.error)}`);
    const done = performance.now();
    return { createMs: created - started, firstRunMs: done - created, totalMs: done - started };
  } finally {
    await sbx.kill();
  }
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    cpus: execFileSync('nproc', { encoding: 'utf8' }).trim(),
    loadAverage: execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim(),
  };
  const rows: string[][] = [];
  const row = (what: string, values: readonly number[], target: string) => {
    results[what] = values.map((v) => Math.round(v * 10) / 10);
    rows.push([what, String(values.length), fmtMs(percentile(values, 50)), fmtMs(percentile(values, 95)), target]);
  };

  await withBenchServer({ codePoolSize: 1 }, async (server, conn) => {
    const pooled: { createMs: number; firstRunMs: number; totalMs: number }[] = [];
    for (let i = 0; i < FIRST_N; i++) {
      await waitForWarmSpare(server);
      pooled.push(await firstRun(conn));
    }
    row(
      'create (warm pool)',
      pooled.map((p) => p.createMs),
      '',
    );
    row(
      'first runCode 1+1 after create (warm pool)',
      pooled.map((p) => p.firstRunMs),
      '≤ 500 ms',
    );
    row(
      'create + first runCode (warm pool)',
      pooled.map((p) => p.totalMs),
      '≤ 500 ms',
    );

    await waitForWarmSpare(server);
    const sbx = await Sandbox.create({ ...conn, template: 'code-interpreter' });
    try {
      await sbx.runCode('1+1');
      const trips: number[] = [];
      for (let i = 0; i < N; i++) trips.push(await timeIt(() => sbx.runCode('1+1')));
      row('1+1 round trip, warm context', trips, '≤ 10 ms');

      const chartCode =
        'import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot(range(100), [i * i for i in range(100)])\nax.set_title("squares")\nplt.show()';
      await sbx.runCode(chartCode);
      const charts: number[] = [];
      for (let i = 0; i < CHART_N; i++) {
        charts.push(
          await timeIt(async () => {
            const ex = await sbx.runCode(chartCode);
            const fig = ex.results.find((r) => r.png !== undefined && r.chart !== undefined);
            if (!fig) throw new Error(`no chart: ${JSON.stringify(ex.error)}`);
          }),
        );
      }
      row('matplotlib line chart (png + chart data)', charts, '');
    } finally {
      await sbx.kill();
    }
  });

  await withBenchServer({ codePoolSize: 0 }, async (_server, conn) => {
    const cold: number[] = [];
    for (let i = 0; i < Math.min(FIRST_N, 3); i++) cold.push((await firstRun(conn)).totalMs);
    row('create + first runCode (no pool: boot + kernel start)', cold, '');
  });

  const header = ['what', 'n', 'p50', 'p95', 'target'];
  printTable(rows, header);
  const md = [
    `# Code interpreter benchmark (${results.date})`,
    '',
    `Host: ${results.cpus} CPUs, load average at start ${results.loadAverage}.`,
    '',
    markdownTable(rows, header),
    '',
  ].join('\n');
  saveResult('code.md', md);
  saveResult('code.json', results);
}

await main();
