/**
 * E2B facade benchmark: the same operations through the real E2B SDKs (e2b 2.51.0,
 * @e2b/code-interpreter 2.8.0, configured by E2B_* env vars) and through Paddock's SDK,
 * against one server, interleaved call by call so that machine load hits both alike:
 * create → first command, command round trip, and runCode('1+1') round trip.
 *
 *   npm run bench:e2b      # BENCH_N=100 round trips, BENCH_CREATE_N=20 creates
 *
 * Needs root and the built `base` and `code-interpreter` templates (scripts/setup.sh).
 * Prints a markdown table and writes bench/results/e2b.{md,json}.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Sandbox as E2bCodeSandbox } from '@e2b/code-interpreter';
import { Sandbox } from '@paddock/sdk';
import { Sandbox as E2bSandbox } from 'e2b';
import { startBenchServer } from './bench-server.js';
import { fmtMs, markdownTable, percentile, printTable, saveResult, timeIt } from './stats.js';

// One key for both SDKs: E2B's format is a valid Paddock key.
const API_KEY = `e2b_${randomBytes(20).toString('hex')}`;
const N = Number(process.env.BENCH_N ?? 100);
const CREATE_N = Number(process.env.BENCH_CREATE_N ?? 20);

interface Pair {
  e2b: number[];
  paddock: number[];
}

function pair(): Pair {
  return { e2b: [], paddock: [] };
}

/** Runs `e2b` and `paddock` `n` times each, alternating which goes first. */
async function interleave(
  n: number,
  into: Pair,
  e2b: () => Promise<unknown>,
  paddock: () => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      into.e2b.push(await timeIt(e2b));
      into.paddock.push(await timeIt(paddock));
    } else {
      into.paddock.push(await timeIt(paddock));
      into.e2b.push(await timeIt(e2b));
    }
  }
}

async function main(): Promise<void> {
  const server = await startBenchServer({
    host: '127.0.0.1',
    apiKey: API_KEY,
  });
  process.env.E2B_API_URL = server.url;
  process.env.E2B_SANDBOX_URL = server.url;
  process.env.E2B_DOMAIN = `localhost:${new URL(server.url).port}`;
  process.env.E2B_API_KEY = API_KEY;
  const conn = { apiUrl: server.url, apiKey: API_KEY };
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    cpus: execFileSync('nproc', { encoding: 'utf8' }).trim(),
    loadAverageAtStart: execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim(),
    n: N,
    createN: CREATE_N,
  };
  const rows: string[][] = [];
  const report = (what: string, p: Pair) => {
    results[what] = {
      e2b: p.e2b.map((v) => Math.round(v * 10) / 10),
      paddock: p.paddock.map((v) => Math.round(v * 10) / 10),
    };
    const e50 = percentile(p.e2b, 50);
    const p50 = percentile(p.paddock, 50);
    rows.push([
      what,
      String(p.e2b.length),
      fmtMs(e50),
      fmtMs(percentile(p.e2b, 95)),
      fmtMs(p50),
      fmtMs(percentile(p.paddock, 95)),
      `${(e50 - p50).toFixed(1)} ms`,
    ]);
  };

  try {
    // Creates are timed to the end of the first command; the kill after each is not timed.
    const creates = pair();
    const createFirst = pair();
    const createE2b = async () => {
      const sbx = await E2bSandbox.create();
      const createdMs = performance.now();
      await sbx.commands.run('true');
      return { createdMs, kill: () => sbx.kill() };
    };
    const createPaddock = async () => {
      const sbx = await Sandbox.create({ ...conn, template: 'base' });
      const createdMs = performance.now();
      await sbx.commands.run('true');
      return { createdMs, kill: () => sbx.kill() };
    };
    for (let i = 0; i < CREATE_N; i++) {
      const order = i % 2 === 0 ? (['e2b', 'paddock'] as const) : (['paddock', 'e2b'] as const);
      for (const who of order) {
        const startedMs = performance.now();
        const { createdMs, kill } = await (who === 'e2b' ? createE2b() : createPaddock());
        createFirst[who].push(performance.now() - startedMs);
        creates[who].push(createdMs - startedMs);
        await kill();
      }
    }
    report('create (Sandbox.create, base template)', creates);
    report("create → first commands.run('true')", createFirst);

    const e2b = await E2bSandbox.create();
    const paddock = await Sandbox.create({ ...conn, template: 'base' });
    try {
      await e2b.commands.run('true');
      await paddock.commands.run('true');
      const trips = pair();
      await interleave(
        N,
        trips,
        () => e2b.commands.run('true'),
        () => paddock.commands.run('true'),
      );
      report("commands.run('true') round trip", trips);
      // The E2B SDK runs every command as `/bin/bash -l -c CMD`: a login shell, which reads
      // /etc/profile and ~/.profile. The same argv through Paddock's SDK leaves only the facade.
      const sameArgv = pair();
      await interleave(
        N,
        sameArgv,
        () => e2b.commands.run('true'),
        () => paddock.commands.run(['/bin/bash', '-l', '-c', 'true']),
      );
      report("the same, Paddock running E2B's argv (bash -l -c true)", sameArgv);
    } finally {
      await Promise.allSettled([e2b.kill(), paddock.kill()]);
    }

    const e2bCode = await E2bCodeSandbox.create();
    const paddockCode = await Sandbox.create({ ...conn, template: 'code-interpreter' });
    try {
      await e2bCode.runCode('1+1');
      await paddockCode.runCode('1+1');
      const runs = pair();
      await interleave(
        N,
        runs,
        async () => {
          if ((await e2bCode.runCode('1+1')).text !== '2') throw new Error('E2B runCode 1+1 did not give 2');
        },
        async () => {
          if ((await paddockCode.runCode('1+1')).text !== '2') throw new Error('Paddock runCode 1+1 did not give 2');
        },
      );
      report("runCode('1+1') round trip", runs);
    } finally {
      await Promise.allSettled([e2bCode.kill(), paddockCode.kill()]);
    }
  } finally {
    await server.close();
  }

  results.loadAverageAtEnd = execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim();
  const header = ['what', 'n', 'E2B SDK p50', 'E2B SDK p95', 'Paddock SDK p50', 'Paddock SDK p95', 'Δ p50'];
  printTable(rows, header);
  const md = [
    `# E2B facade benchmark (${String(results.date)})`,
    '',
    `Host: ${String(results.cpus)} CPUs, load average at start ${String(results.loadAverageAtStart)}, at end ${String(results.loadAverageAtEnd)}.`,
    '',
    markdownTable(rows, header),
    '',
  ].join('\n');
  saveResult('e2b.md', md);
  saveResult('e2b.json', results);
}

await main();
