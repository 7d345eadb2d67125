// Every door that runs a command (POST …/commands, a background process followed, the E2B
// facade's commands.run) goes through one owner (core/commands.ts): an out-of-memory kill is
// reported the same way, and a sandbox that dies under any of them is marked lost the same way.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Sandbox } from '@paddock/sdk';
import { Sandbox as E2bSandbox } from 'e2b';
import { useTestServer } from '../support/server.js';

const server = useTestServer({ metadata: { suite: 'command-doors' } });
const { sandbox } = server;

/** Grows one line without end: `tail` holds it in memory until the OOM killer takes it. */
const RUNAWAY = 'head -c 400000000 /dev/zero | tail';

type Door = (sbx: Sandbox) => Promise<{ exitCode: number; oomKilled: boolean } | { error: string }>;

/** `POST …/commands` through the SDK. */
const foreground: Door = async (sbx) => {
  try {
    const r = await sbx.commands.run(RUNAWAY, { timeoutMs: 60_000, throwOnError: false });
    return { exitCode: r.exitCode, oomKilled: r.oomKilled === true };
  } catch (err) {
    return { error: (err as { code?: string }).code ?? String(err) };
  }
};

/** `POST …/processes` with `background` and `follow`, read as NDJSON. */
const followed: Door = async (sbx) => {
  const { conn } = server;
  const res = await fetch(`${conn.apiUrl}/v1/sandboxes/${sbx.id}/processes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${conn.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ cmd: RUNAWAY, background: true, follow: true, timeoutMs: 60_000 }),
  });
  assert.equal(res.status, 200);
  const events = (await res.text())
    .trim()
    .split('\n')
    .map(
      (line) => JSON.parse(line) as { type: string; exitCode?: number; oomKilled?: boolean; error?: { code: string } },
    );
  const last = events.at(-1);
  if (last?.type === 'error') return { error: last.error?.code ?? 'unknown' };
  return { exitCode: last?.exitCode ?? -1, oomKilled: last?.oomKilled === true };
};

/** The E2B SDK's `commands.run` on the facade (E2B's end event has no OOM flag: only the code). */
const e2b: Door = async (sbx) => {
  const { conn } = server;
  process.env.E2B_API_URL = conn.apiUrl;
  process.env.E2B_SANDBOX_URL = conn.apiUrl;
  process.env.E2B_DOMAIN = `localhost:${new URL(conn.apiUrl).port}`;
  process.env.E2B_API_KEY = conn.apiKey;
  const facade = await E2bSandbox.connect(sbx.id);
  try {
    const r = await facade.commands.run(RUNAWAY, { timeoutMs: 60_000 });
    return { exitCode: r.exitCode, oomKilled: false };
  } catch (err) {
    const { exitCode } = err as { exitCode?: number };
    if (typeof exitCode === 'number') return { exitCode, oomKilled: false };
    return { error: 'unavailable' };
  }
};

const doors = { foreground, followed, e2b } as const;

describe('every command door, through the one command owner', () => {
  for (const [name, door] of Object.entries(doors)) {
    it(`${name}: a crun command killed by out of memory says so, and the sandbox lives on`, async () => {
      const sbx = await sandbox({ isolation: 'container', memoryMiB: 128 });
      const outcome = await door(sbx);
      assert.ok('exitCode' in outcome, `expected an exit, got ${JSON.stringify(outcome)}`);
      assert.equal(outcome.exitCode, 137);
      // E2B's protocol carries no OOM flag; ours do.
      assert.equal(outcome.oomKilled, name !== 'e2b');
      assert.equal((await sbx.getInfo()).state, 'running');
    });

    it(`${name}: a gVisor sandbox that dies of it under the command is marked lost as \`oom\``, async (t) => {
      const sbx = await sandbox({ isolation: 'gvisor', memoryMiB: 64 });
      const outcome = await door(sbx);
      const info = await sbx.getInfo();
      if (info.state === 'running') {
        t.skip('this gVisor ended only the runaway process: the sandbox survived, nothing stopped it');
        return;
      }
      assert.ok('error' in outcome, `expected an error, got ${JSON.stringify(outcome)}`);
      if (name !== 'e2b') assert.equal(outcome.error, 'SANDBOX_NOT_RUNNING');
      assert.deepEqual([info.state, info.reasonCode], ['hibernated', 'oom']);
    });
  }
});
