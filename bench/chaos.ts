// `npm run chaos`: the whole crash-consistency matrix (test/support/chaos.ts), every failpoint
// of every operation in crun and gVisor, `PADDOCK_CHAOS_ROUNDS` times (default 1). Prints a
// markdown table for docs/reliability.md and exits 1 if any case broke an invariant.
// Uses the test suite's data dir and server set-up (PADDOCK_TEST_ROOT).
import { Sandbox } from '@paddock/sdk';
import { CHAOS_CASES, caseName, runCase } from '../test/support/chaos.js';
import { TEST_API_KEY } from '../test/support/env.js';
import { ServerProcess } from '../test/support/server-process.js';
import { markdownTable, saveResult } from './stats.js';

const rounds = Number(process.env.PADDOCK_CHAOS_ROUNDS ?? '1');
const server = new ServerProcess(19_500 + (process.pid % 400));
const rows: string[][] = [];
let failed = 0;
try {
  for (let round = 1; round <= rounds; round++) {
    for (const c of CHAOS_CASES) {
      const started = performance.now();
      let verdict: string;
      try {
        verdict = `ok: ${await runCase(server, c)}`;
      } catch (err) {
        failed++;
        verdict = `FAILED: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
      }
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      console.error(`[${round}/${rounds}] ${caseName(c)} (${seconds} s): ${verdict}`);
      rows.push([c.isolation, c.what, c.point, verdict.startsWith('ok') ? 'ok' : verdict, `${seconds} s`]);
    }
  }
} finally {
  const child = server.child;
  if (child && child.exitCode === null && child.signalCode === null) {
    const conn = { apiUrl: server.url, apiKey: TEST_API_KEY };
    for (const s of await Sandbox.list({ ...conn, metadata: { suite: 'chaos' } })) await Sandbox.kill(s.id, conn);
    await server.stop('SIGTERM');
  }
}
const table = markdownTable(rows, ['isolation', 'operation', 'killed at', 'invariants', 'case time']);
console.log(table);
console.log(`\n${rows.length - failed} of ${rows.length} cases kept every invariant`);
saveResult('chaos.md', `${table}\n`);
process.exit(failed > 0 ? 1 : 0);
