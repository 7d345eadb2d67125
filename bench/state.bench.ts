/**
 * Stateful-sandbox benchmark (issue 4). Run: `npm run bench:state` (root; after set-up).
 * Through the TS SDK against an in-process server (so every number includes the HTTP call):
 * pause and resume latency p50/p95 (crun: cgroup freezer; gVisor: runsc pause/resume),
 * hibernate and restore time vs resident memory (gVisor: 64 MiB, 256 MiB, 1 GiB held by a
 * Python process), fork of 4 and of 16, and snapshot time. Prints a markdown table; raw
 * numbers go to bench/results/state-<time>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Isolation, Sandbox, Snapshot } from '@paddock/sdk';
import { BENCH_API_KEY as API_KEY, startBenchServer } from './bench-server.js';
import { fmtMs, percentile, printTable, timeIt } from './stats.js';

const N = Number(process.env.BENCH_N ?? 50);
const SIZES_MIB = (process.env.BENCH_SIZES_MIB ?? '64,256,1024').split(',').map(Number);
const FORKS = (process.env.BENCH_FORKS ?? '4,16').split(',').map(Number);

const server = await startBenchServer();
const conn = { apiUrl: server.url, apiKey: API_KEY };
const rows: string[][] = [];
const raw: Record<string, number[]> = {};
const record = (name: string, values: number[], note = '') => {
  console.error(`${name}: p50 ${fmtMs(percentile(values, 50))}`);
  raw[name] = values;
  rows.push([name, String(values.length), fmtMs(percentile(values, 50)), fmtMs(percentile(values, 95)), note]);
};

async function holding(isolation: Isolation, mib: number, memoryMiB: number): Promise<Sandbox> {
  const sbx = await Sandbox.create({ ...conn, isolation, memoryMiB, metadata: { bench: 'state' } });
  // Touch every page so that it is resident, then keep it in memory.
  const py = `b = bytearray(${mib} * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1\nopen('/tmp/ready', 'w').close()\nimport time\nwhile True: time.sleep(1)`;
  await sbx.files.write('/home/user/hold.py', py);
  await sbx.commands.run('nohup python3 /home/user/hold.py >/dev/null 2>&1 &');
  for (let i = 0; i < 600; i++) {
    if ((await sbx.commands.run('test -e /tmp/ready', { throwOnError: false })).exitCode === 0) return sbx;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the ${mib} MiB ballast never became resident`);
}

try {
  for (const isolation of ['container', 'gvisor'] as const) {
    const sbx = await Sandbox.create({ ...conn, isolation, metadata: { bench: 'state' } });
    const pause: number[] = [];
    const resume: number[] = [];
    for (let i = 0; i < N; i++) {
      pause.push(await timeIt(() => sbx.pause()));
      resume.push(await timeIt(() => sbx.resume()));
    }
    record(`pause (${isolation})`, pause, isolation === 'container' ? 'cgroup freezer' : 'runsc pause');
    record(`resume (${isolation})`, resume, isolation === 'container' ? 'cgroup freezer' : 'runsc resume');
    const snap = `bench-snap-${process.pid}`;
    await sbx.files.write('/home/user/payload.bin', new Uint8Array(32 * 1024 * 1024));
    record(`snapshot, 32 MiB of changes (${isolation})`, [await timeIt(() => sbx.snapshot({ name: snap }))]);
    await Snapshot.delete(snap, conn);
    const hib: number[] = [];
    const wake: number[] = [];
    for (let i = 0; i < 5; i++) {
      hib.push(await timeIt(() => sbx.hibernate({ keepMemory: isolation === 'gvisor' })));
      wake.push(await timeIt(() => sbx.resume()));
    }
    const what = isolation === 'gvisor' ? 'memory' : 'filesystem only';
    record(`hibernate, idle (${isolation}, ${what})`, hib);
    record(`resume from hibernation, idle (${isolation}, ${what})`, wake);
    await sbx.kill();
  }
  for (const mib of SIZES_MIB) {
    const sbx = await holding('gvisor', mib, Math.max(512, mib * 2));
    const hib: number[] = [];
    const wake: number[] = [];
    for (let i = 0; i < 3; i++) {
      hib.push(await timeIt(() => sbx.hibernate()));
      wake.push(await timeIt(() => sbx.resume()));
    }
    record(`hibernate, ${mib} MiB resident (gvisor)`, hib);
    record(`restore, ${mib} MiB resident (gvisor)`, wake);
    await sbx.kill();
  }
  for (const count of FORKS) {
    const parent = await Sandbox.create({ ...conn, isolation: 'gvisor', metadata: { bench: 'state' } });
    let forks: Sandbox[] = [];
    const ms = await timeIt(async () => {
      forks = await Sandbox.fork(parent.id, { ...conn, count, metadata: { bench: 'state' } });
    });
    record(`fork of ${count} (gvisor)`, [ms], `${fmtMs(ms / count)} per fork`);
    await Promise.all([parent, ...forks].map((s) => s.kill()));
  }
} finally {
  for (const s of await Sandbox.list({ ...conn, metadata: { bench: 'state' } })) await Sandbox.kill(s.id, conn);
  await server.close();
}

printTable(rows, ['operation', 'n', 'p50', 'p95', 'note']);
const dir = join(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `state-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ when: new Date().toISOString(), n: N, raw }, null, 2));
console.log(`\nraw numbers: ${file}`);
