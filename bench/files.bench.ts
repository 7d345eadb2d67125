/**
 * File transfer benchmark. Run: `npm run bench:files` (root; after set-up).
 * Against a server run as its own process (`paddock serve`, so that client and server do
 * not share an event loop): upload and download of a 1 GiB file through the TS SDK in MiB/s,
 * next to the floor of `cp` of the same file on the host (with and without fsync; the
 * agent fsyncs every upload) and of `dd` inside the sandbox (its own disk); the round trip of a small file (write then read, p50/p95);
 * and the delay from a write to its watch event (p50/p95). Prints a markdown table; raw
 * numbers go to bench/results/files-<time>.json.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  createReadStream,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '@paddock/sdk';
import { fmtMs, percentile, printTable, timeIt } from './stats.js';

const DATA_DIR = process.env.PADDOCK_BENCH_DATA_DIR ?? '/var/tmp/paddock-test/data';
const API_KEY = 'pdk_bench_0123456789abcdef0123456789abcdef';
const CGROUP_PARENT = 'paddock-bench';
const SIZE_MIB = Number(process.env.BENCH_FILE_MIB ?? 1024);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SMALL_N = Number(process.env.BENCH_SMALL_N ?? 200);
const CLI = fileURLToPath(new URL('../packages/sdk/bin/paddock.js', import.meta.url));
const MiB = 1_048_576;

async function startServerProcess(port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--port', String(port), '--data-dir', DATA_DIR, '--api-key', API_KEY, '--pool-size', '0'],
    {
      env: {
        ...process.env,
        PADDOCK_CGROUP_PARENT: CGROUP_PARENT,
        PADDOCK_GVISOR_POOL_SIZE: '0',
        PADDOCK_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return child;
    if (Date.now() > deadline) throw new Error('server did not become healthy');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A file of `sizeMiB` MiB of non-repeating-enough bytes (so no layer can compress it away). */
function makeFile(path: string, sizeMiB: number): void {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < sizeMiB; i++) {
    block.fill(i % 251);
    block.writeUInt32LE(i, 0);
    writeSync(fd, block);
  }
  closeSync(fd);
}

const mibPerS = (ms: number) => (SIZE_MIB / (ms / 1000)).toFixed(0);

async function main(): Promise<void> {
  const port = 19_000 + (process.pid % 1000);
  const server = await startServerProcess(port);
  const conn = { apiUrl: `http://127.0.0.1:${port}`, apiKey: API_KEY };
  const work = mkdtempSync(join(tmpdir(), 'paddock-files-bench-'));
  const source = join(work, 'source.bin');
  makeFile(source, SIZE_MIB);
  const sbx = await Sandbox.create({ ...conn, diskMiB: SIZE_MIB * 3 + 512, metadata: { suite: 'files-bench' } });
  try {
    const cp: number[] = [];
    const cpSync: number[] = [];
    const up: number[] = [];
    const down: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const copy = join(work, 'copy.bin');
      cp.push(await timeIt(async () => execFileSync('cp', [source, copy])));
      rmSync(copy);
      cpSync.push(await timeIt(async () => execFileSync('sh', ['-c', `cp "${source}" "${copy}" && sync "${copy}"`])));
      rmSync(copy);
      up.push(await timeIt(() => sbx.files.write('/home/user/big.bin', createReadStream(source))));
      down.push(
        await timeIt(async () => {
          const stream = await sbx.files.read('/home/user/big.bin', { format: 'stream', requestTimeoutMs: 0 });
          await pipeline(stream, createWriteStream(join(work, 'down.bin')));
        }),
      );
      rmSync(join(work, 'down.bin'));
    }
    // The sandbox's own disk, without any transport: the floor under the agent.
    const ddWrite: number[] = [];
    const ddRead: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      ddWrite.push(
        await timeIt(() =>
          sbx.commands.run(`dd if=/dev/zero of=/home/user/dd.bin bs=1M count=${SIZE_MIB} conv=fsync`, {
            timeoutMs: 0,
          }),
        ),
      );
      ddRead.push(await timeIt(() => sbx.commands.run('dd if=/home/user/dd.bin of=/dev/null bs=1M', { timeoutMs: 0 })));
    }
    await sbx.files.remove('/home/user/dd.bin');
    await sbx.files.remove('/home/user/big.bin');

    const small: number[] = [];
    const payload = Buffer.alloc(1_024, 7);
    for (let i = 0; i < SMALL_N; i++) {
      small.push(
        await timeIt(async () => {
          await sbx.files.write(`/home/user/small-${i % 10}.txt`, payload);
          await sbx.files.read(`/home/user/small-${i % 10}.txt`, { format: 'bytes' });
        }),
      );
    }

    await sbx.files.mkdir('/home/user/watched');
    const delays: number[] = [];
    let resolveEvent: (() => void) | undefined;
    const w = await sbx.files.watch('/home/user/watched', () => resolveEvent?.());
    for (let i = 0; i < 50; i++) {
      const seen = new Promise<void>((resolve) => {
        resolveEvent = resolve;
      });
      const written = sbx.commands.run(`echo ${i} > /home/user/watched/f${i}`);
      await written;
      const after = performance.now();
      await seen;
      delays.push(performance.now() - after);
    }
    await w.stop();

    const best = (xs: number[]) => Math.min(...xs);
    const rows = [
      [`host cp ${SIZE_MIB} MiB (floor, page cache)`, `${mibPerS(best(cp))} MiB/s`, fmtMs(best(cp))],
      [`host cp + fsync ${SIZE_MIB} MiB (floor)`, `${mibPerS(best(cpSync))} MiB/s`, fmtMs(best(cpSync))],
      [
        `in-sandbox dd write + fsync ${SIZE_MIB} MiB (disk floor)`,
        `${mibPerS(best(ddWrite))} MiB/s`,
        fmtMs(best(ddWrite)),
      ],
      [`in-sandbox dd read ${SIZE_MIB} MiB (disk floor)`, `${mibPerS(best(ddRead))} MiB/s`, fmtMs(best(ddRead))],
      [`upload ${SIZE_MIB} MiB (SDK → server → agent, fsync)`, `${mibPerS(best(up))} MiB/s`, fmtMs(best(up))],
      [`download ${SIZE_MIB} MiB (agent → server → SDK → file)`, `${mibPerS(best(down))} MiB/s`, fmtMs(best(down))],
      ['small file write+read 1 KiB p50', '', fmtMs(percentile(small, 50))],
      ['small file write+read 1 KiB p95', '', fmtMs(percentile(small, 95))],
      ['watch: command done → event p50', '', fmtMs(percentile(delays, 50))],
      ['watch: command done → event p95', '', fmtMs(percentile(delays, 95))],
    ];
    printTable(rows, ['what', 'throughput', 'time (best of runs / percentile)']);
    const load = execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim();
    console.log(
      `\n${RUNS} runs of the 1 GiB transfers, ${SMALL_N} small round trips; load average at the end: ${load}`,
    );
    const results = join(fileURLToPath(new URL('.', import.meta.url)), 'results');
    mkdirSync(results, { recursive: true });
    const file = join(results, `files-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(
      file,
      `${JSON.stringify({ sizeMiB: SIZE_MIB, runs: RUNS, cpMs: cp, cpFsyncMs: cpSync, ddWriteFsyncMs: ddWrite, ddReadMs: ddRead, uploadMs: up, downloadMs: down, smallRoundTripMs: small, watchDelayMs: delays, loadavg: load }, null, 1)}\n`,
    );
    console.log(`raw numbers: ${file}`);
  } finally {
    await sbx.kill().catch(() => {});
    rmSync(work, { recursive: true, force: true });
    server.kill('SIGTERM');
    await once(server, 'exit');
  }
}

await main();
