/**
 * Noisy-neighbour benchmark (issue 12, item 11). Run: `npm run bench:neighbour` (root; after
 * set-up). Two sandboxes of the default shape: a quiet one whose `echo ok` round trip we time,
 * and a noisy one beside it that is idle, holds a fork bomb at its cap, or runs CPU hogs
 * (`yes > /dev/null` × BENCH_HOGS). Also times the noisy sandbox's own `echo ok` (its agent
 * competes with its own workload) and reports the share of a CPU the noise took. Every loop is
 * bounded in count (BENCH_N) and time (BENCH_PHASE_MS). Prints a markdown table; raw numbers go
 * to bench/results/neighbour-<time>.json.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Isolation, Sandbox } from '@paddock/sdk';
import { BENCH_API_KEY as API_KEY, BENCH_CGROUP_PARENT as CGROUP_PARENT, startBenchServer } from './bench-server.js';
import { fmtMs, percentile, printTable, saveResult, timeIt } from './stats.js';

const N = Number(process.env.BENCH_N ?? 100);
const OWN_N = Number(process.env.BENCH_OWN_N ?? 10);
const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 60_000);
const HOGS = Number(process.env.BENCH_HOGS ?? 8);
const ISOLATIONS = (process.env.BENCH_ISOLATION ?? 'container,gvisor').split(',') as Isolation[];
/** One call may take this long before it counts as starved (and ends the phase). */
const CALL_TIMEOUT_MS = 30_000;

/** Every process of the bomb forks in a loop, retrying when the pids cap refuses it. */
const FORK_BOMB = 'import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n';

type Noise = 'nothing' | 'fork bomb held at its cap' | `${number} × yes > /dev/null`;

function readCgroup(controller: string, id: string, file: string): string {
  try {
    return readFileSync(join('/sys/fs/cgroup', controller, CGROUP_PARENT, id, file), 'utf8');
  } catch {
    return '';
  }
}

function cgroupNumber(controller: string, id: string, file: string): number {
  return Number.parseInt(readCgroup(controller, id, file), 10);
}

/** Polls a host cgroup file until `ready` holds: the noise is at full strength. */
async function until(what: string, ready: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startNoise(noisy: Sandbox, noise: Noise, isolation: Isolation): Promise<void> {
  const lifetime = { background: true as const, timeoutMs: PHASE_MS * 2 + 60_000 };
  if (noise === 'nothing') return;
  if (noise === 'fork bomb held at its cap') {
    await noisy.files.write('/tmp/bomb.py', FORK_BOMB);
    await noisy.commands.run(['python3', '/tmp/bomb.py'], lifetime);
    // crun: held at its cap, the pids cap or the RLIMIT_NPROC a little below it (every process
    // retries its fork). gVisor: the host cgroup counts the sentry's threads and stubs, and the
    // bomb usually kills its own sandbox before the cap (REPORT §6): measure while it grows.
    const cap = cgroupNumber('pids', noisy.id, 'pids.max');
    const full = isolation === 'gvisor' ? Math.min(cap, 100) : Math.floor(cap * 0.9);
    await until('the fork bomb to reach the pids cap', () => cgroupNumber('pids', noisy.id, 'pids.current') >= full);
    return;
  }
  await noisy.commands.run(`for i in $(seq ${HOGS}); do yes > /dev/null & done; wait`, lifetime);
  await until('the CPU hogs to start', () => cgroupNumber('pids', noisy.id, 'pids.current') >= HOGS + 2);
}

/** A failed call in a table cell: a timeout, or the exit the command ended with. */
function failure(message: string): string {
  if (/timed out|no response/i.test(message)) return 'timed out';
  return /exited with code (\d+)/.exec(message)?.[0] ?? 'failed';
}

/** Times `echo ok` in `sbx` at most `n` times and for at most PHASE_MS; a timed-out call ends the loop. */
async function roundTrips(sbx: Sandbox, n: number): Promise<{ ms: number[]; failed: string | undefined }> {
  const ms: number[] = [];
  const end = Date.now() + PHASE_MS;
  for (let i = 0; i < n && Date.now() < end; i++) {
    try {
      ms.push(
        await timeIt(async () => {
          const r = await sbx.commands.run(['echo', 'ok'], {
            requestTimeoutMs: CALL_TIMEOUT_MS,
            timeoutMs: CALL_TIMEOUT_MS,
          });
          if (r.stdout !== 'ok\n') throw new Error(`unexpected output ${JSON.stringify(r.stdout)}`);
        }),
      );
    } catch (error) {
      return { ms, failed: error instanceof Error ? error.message : String(error) };
    }
  }
  return { ms, failed: undefined };
}

async function main(): Promise<void> {
  const server = await startBenchServer();
  const conn = { apiUrl: server.url, apiKey: API_KEY };
  const results: Record<string, unknown> = { date: new Date().toISOString(), n: N, phaseMs: PHASE_MS, hogs: HOGS };
  const rows: string[][] = [];
  const noises: Noise[] = ['nothing', 'fork bomb held at its cap', `${HOGS} × yes > /dev/null`];
  try {
    for (const isolation of ISOLATIONS) {
      const quiet = await Sandbox.create({ ...conn, isolation, metadata: { bench: 'neighbour' } });
      try {
        for (const noise of noises) {
          const noisy = await Sandbox.create({ ...conn, isolation, metadata: { bench: 'neighbour' } });
          try {
            await startNoise(noisy, noise, isolation);
            const cpu0 = cgroupNumber('cpuacct', noisy.id, 'cpuacct.usage');
            const t0 = performance.now();
            const next = await roundTrips(quiet, N);
            const cpuShare =
              (cgroupNumber('cpuacct', noisy.id, 'cpuacct.usage') - cpu0) / 1e6 / (performance.now() - t0);
            const own = noise === 'nothing' ? { ms: [], failed: undefined } : await roundTrips(noisy, OWN_N);
            const pids = cgroupNumber('pids', noisy.id, 'pids.current');
            // Forks the pids cap refused (the costly kind: after the memory map was copied).
            const pidsRefused = /^max (\d+)/m.exec(readCgroup('pids', noisy.id, 'pids.events'))?.[1] ?? '–';
            const state = (await noisy.getInfo().catch(() => undefined))?.state ?? 'gone';
            results[`${isolation}: ${noise}`] = { next, own, cpuShare, pids, pidsRefused, state };
            console.error(`${isolation}, ${noise}: p50 ${fmtMs(percentile(next.ms, 50))}`);
            rows.push([
              isolation,
              noise,
              `${next.ms.length}${next.failed ? ' (then a failure)' : ''}`,
              fmtMs(percentile(next.ms, 50)),
              fmtMs(percentile(next.ms, 99)),
              fmtMs(next.ms.length > 0 ? Math.max(...next.ms) : Number.NaN),
              noise === 'nothing'
                ? '–'
                : `${fmtMs(percentile(own.ms, 50))}${own.failed ? ` (${failure(own.failed)})` : ''}`,
              Number.isNaN(cpuShare) ? '–' : cpuShare.toFixed(2),
              `${Number.isNaN(pids) ? '–' : pids} (${state})`,
              pidsRefused,
            ]);
          } finally {
            await noisy.kill().catch(() => undefined);
          }
        }
      } finally {
        await quiet.kill().catch(() => undefined);
      }
    }
  } finally {
    await server.close();
  }
  printTable(rows, [
    'runtime',
    'next door',
    'n',
    'echo ok p50',
    'echo ok p99',
    'max',
    "noisy sandbox's own echo p50",
    'noise CPUs',
    'noise pids',
    'forks refused at pids cap',
  ]);
  saveResult(`neighbour-${Date.now()}.json`, results);
}

await main();
