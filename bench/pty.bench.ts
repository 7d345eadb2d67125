/**
 * PTY keystroke echo latency. Run: `npm run bench:pty` (root; after set-up).
 * In-process server, crun and gVisor sandboxes: time from `sendInput('x')` to the echoed
 * byte arriving in `onData` (the terminal's own echo, in `cat` running raw-ish under the
 * line discipline), n keystrokes each. Prints a markdown table; JSON to bench/results/.
 */
import { Sandbox } from '@paddock/sdk';
import { BENCH_API_KEY as API_KEY, startBenchServer } from './bench-server.js';
import { fmtMs, percentile, printTable, saveResult } from './stats.js';

const N = Number(process.env.BENCH_N ?? 100);

const server = await startBenchServer();
const conn = { apiUrl: server.url, apiKey: API_KEY };
const rows: string[][] = [];
const results: Record<string, number[]> = {};
try {
  for (const isolation of ['container', 'gvisor'] as const) {
    const sbx = await Sandbox.create({ ...conn, isolation });
    try {
      let waiting: ((text: string) => void) | undefined;
      let seen = '';
      const term = await sbx.pty.create({
        cols: 80,
        rows: 24,
        cmd: 'stty -icanon; exec cat',
        onData: (d) => {
          seen += Buffer.from(d).toString('utf8');
          waiting?.(seen);
        },
      });
      const until = (needle: string) =>
        new Promise<void>((resolve) => {
          waiting = (text) => {
            if (text.includes(needle)) {
              waiting = undefined;
              resolve();
            }
          };
          waiting(seen);
        });
      const times: number[] = [];
      for (let i = 0; i < N; i++) {
        const key = String.fromCharCode(97 + (i % 26));
        seen = '';
        const start = performance.now();
        const echoed = until(key);
        await term.sendInput(key);
        await echoed;
        times.push(performance.now() - start);
      }
      results[isolation] = times;
      rows.push(['keystroke → echo', isolation, fmtMs(percentile(times, 50)), fmtMs(percentile(times, 95))]);
      await term.kill();
    } finally {
      await sbx.kill();
    }
  }
} finally {
  await server.close();
}
printTable(rows, ['measure', 'runtime', 'p50', 'p95']);
saveResult(`pty-${Date.now()}.json`, { date: new Date().toISOString(), n: N, results });
