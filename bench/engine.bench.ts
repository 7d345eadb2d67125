/**
 * Engine benchmark (issue: the sandbox engine). Run: `npm run bench` (root; after set-up).
 * Measures, for crun and gVisor, side by side with the floor (`crun run` of a prepared bundle):
 * create→first command cold and from the warm pool, command round trip, idle memory per
 * sandbox, and 100 concurrent creates. Prints a markdown table; raw numbers go to
 * bench/results/engine-<time>.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Isolation, Sandbox } from '@paddock/sdk';
import { BENCH_CGROUP_PARENT as CGROUP_PARENT, BENCH_DATA_DIR as DATA_DIR, withBenchServer } from './bench-server.js';
import { fmtMs, percentile, printTable, saveResult, timeIt } from './stats.js';

const N = Number(process.env.BENCH_N ?? 20);
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 100);

async function createToFirstCommand(
  conn: { apiUrl: string; apiKey: string; requestTimeoutMs?: number },
  isolation: Isolation,
): Promise<{ ms: number; sbx: Sandbox }> {
  let sbx!: Sandbox;
  const ms = await timeIt(async () => {
    sbx = await Sandbox.create({ ...conn, isolation });
    const r = await sbx.commands.run(['echo', 'ok']);
    if (r.stdout !== 'ok\n') throw new Error(`unexpected output ${r.stdout}`);
  });
  return { ms, sbx };
}

/** The floor: `crun run` of a bundle prepared from a live sandbox's config (same rootfs, userns, seccomp). */
function crunFloor(sandboxDir: string, runs: number): number[] {
  const config = JSON.parse(readFileSync(join(sandboxDir, 'config.json'), 'utf8')) as {
    process: { args: string[] };
    root: { path: string };
    linux: { cgroupsPath: string };
    hostname: string;
  };
  const bundle = join(DATA_DIR, '..', 'bench-floor');
  const state = join(bundle, 'state');
  mkdirSync(state, { recursive: true });
  config.process.args = ['/bin/echo', 'ok'];
  config.root.path = join(sandboxDir, 'rootfs');
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const id = `floor${String(i).padStart(15, '0')}`;
    config.linux.cgroupsPath = `/${CGROUP_PARENT}/${id}`;
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
    const start = performance.now();
    const out = execFileSync('crun', ['--root', state, 'run', '--bundle', bundle, id], { encoding: 'utf8' });
    times.push(performance.now() - start);
    if (out.trim() !== 'ok') throw new Error(`floor printed ${out}`);
  }
  rmSync(bundle, { recursive: true, force: true });
  return times;
}

function pssKiB(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      total += Number(m?.[1] ?? 0);
    } catch {
      // exited
    }
  }
  return total;
}

function cgroupPids(id: string): number[] {
  const pids = new Set<number>();
  for (const controller of ['memory', 'pids', 'cpu']) {
    try {
      for (const line of readFileSync(`/sys/fs/cgroup/${controller}/${CGROUP_PARENT}/${id}/cgroup.procs`, 'utf8').split(
        '\n',
      )) {
        if (line) pids.add(Number(line));
      }
    } catch {
      // not in this hierarchy
    }
  }
  return [...pids];
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    n: N,
    concurrent: CONCURRENT,
    cpus: execFileSync('nproc', { encoding: 'utf8' }).trim(),
  };
  const rows: string[][] = [];
  const row = (what: string, kind: string, values: readonly number[], target: string) => {
    results[`${kind}: ${what}`] = values;
    rows.push([what, kind, fmtMs(percentile(values, 50)), fmtMs(percentile(values, 95)), target]);
  };

  for (const isolation of ['container', 'gvisor'] as const) {
    const n = isolation === 'gvisor' ? Math.max(5, Math.floor(N / 2)) : N;
    // Cold: pool off, every create boots a sandbox.
    await withBenchServer({ poolSize: 0, gvisorPoolSize: 0 }, async (server, conn) => {
      const cold: number[] = [];
      const rtt: number[] = [];
      let kept: Sandbox | undefined;
      for (let i = 0; i < n; i++) {
        const { ms, sbx } = await createToFirstCommand(conn, isolation);
        cold.push(ms);
        if (i === 0) kept = sbx;
        else await sbx.kill();
      }
      row('create → first command, cold', isolation, cold, isolation === 'container' ? '≤ 120 ms' : '≤ 400 ms');
      for (let i = 0; i < N * 5; i++) rtt.push(await timeIt(() => kept!.commands.run(['echo', 'ok'])));
      row('command round trip (echo ok)', isolation, rtt, isolation === 'container' ? '≤ 5 ms' : '–');
      if (isolation === 'container' && kept) {
        const sandboxDir = join(DATA_DIR, 'sandboxes', kept.id);
        row('floor: crun run of a prepared bundle', 'crun', crunFloor(sandboxDir, N), '–');
      }
      // Idle memory: a few sandboxes left alone for a moment.
      const idle = await Promise.all(Array.from({ length: 5 }, () => Sandbox.create({ ...conn, isolation })));
      await new Promise((r) => setTimeout(r, 2_000));
      const runtime = server.service.runtimeFor(isolation);
      const mem: number[] = [];
      const pss: number[] = [];
      for (const s of idle) {
        mem.push((await runtime.usage(s.id)).memoryBytes / 1_048_576);
        pss.push(pssKiB(cgroupPids(s.id)) / 1024);
      }
      results[`${isolation}: idle memory cgroup MiB`] = mem;
      results[`${isolation}: idle memory PSS MiB`] = pss;
      rows.push([
        'idle memory per sandbox (cgroup / PSS)',
        isolation,
        `${percentile(mem, 50).toFixed(1)} MiB`,
        `${percentile(pss, 50).toFixed(1)} MiB PSS`,
        isolation === 'container' ? '≤ 10 MiB' : '–',
      ]);
      await Promise.all(idle.map((s) => s.kill()));
    });

    // Warm: a pool of 4; after each claim wait until the pool is full again.
    await withBenchServer(
      { poolSize: isolation === 'container' ? 4 : 0, gvisorPoolSize: isolation === 'gvisor' ? 4 : 0 },
      async (server, conn) => {
        await server.service.scope.idle();
        const warm: number[] = [];
        for (let i = 0; i < n; i++) {
          const { ms, sbx } = await createToFirstCommand(conn, isolation);
          warm.push(ms);
          await sbx.kill();
          // The pool refills a moment after a claim (warm-pool.ts); wait for that, then for the boot.
          await new Promise((resolve) => setTimeout(resolve, 400));
          await server.service.scope.idle();
        }
        row('create → first command, warm pool', isolation, warm, isolation === 'container' ? '≤ 20 ms' : '≤ 30 ms');
      },
    );

    // 100 concurrent creates (pool off), each followed by a first command.
    await withBenchServer({ poolSize: 0, gvisorPoolSize: 0 }, async (_server, conn) => {
      const outcomes = await Promise.allSettled(
        Array.from({ length: CONCURRENT }, () =>
          createToFirstCommand({ ...conn, requestTimeoutMs: 600_000 }, isolation),
        ),
      );
      const ok = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
      results[`${isolation}: concurrent failures`] = failed.slice(0, 5);
      row(
        `${CONCURRENT} concurrent creates (${ok.length}/${CONCURRENT} ok)`,
        isolation,
        ok.map((o) => o.ms),
        `all succeed`,
      );
      for (let i = 0; i < ok.length; i += 10) await Promise.all(ok.slice(i, i + 10).map((o) => o.sbx.kill()));
    });
  }

  printTable(rows, ['measure', 'runtime', 'p50', 'p95', 'target']);
  saveResult(`engine-${Date.now()}.json`, results);
}

await main();
