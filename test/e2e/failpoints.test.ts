// Crash consistency with failpoints: the server dies (SIGKILL, from inside) between two steps
// of an operation; after the restart every sandbox the API calls `running` answers, its files
// and processes are kept, and nothing the cut-short step made is left behind.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Sandbox, Snapshot } from '@paddock/sdk';
import type { Failpoint } from '../../packages/server/src/failpoints.js';
import { TEST_API_KEY, TEST_DATA_DIR } from '../support/env.js';
import { ServerProcess } from '../support/server-process.js';

const server = new ServerProcess(19_000 + (process.pid % 1000));
const conn = { apiUrl: server.url, apiKey: TEST_API_KEY };
const suite = { suite: 'failpoints' };

after(async () => {
  await ensureStarted();
  for (const s of await Sandbox.list({ ...conn, metadata: suite })) await Sandbox.kill(s.id, conn);
  await server.stop('SIGTERM');
});

/** Starts the server unless it runs (a failed test may leave it dead at its failpoint). */
async function ensureStarted(): Promise<void> {
  const child = server.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) await server.start();
}

/** Runs `call` with the server armed at `point`, waits for it to die there, and starts it clean. */
async function dieAt(point: Failpoint, call: () => Promise<unknown>): Promise<void> {
  await server.stop('SIGTERM');
  await server.start({ PADDOCK_FAILPOINTS: point });
  const outcome = await call().then(
    () => 'finished',
    () => 'cut',
  );
  await server.exited();
  assert.equal(outcome, 'cut', `the call should not finish: the server dies at ${point}`);
  assert.ok(server.log.includes(`"failpoint":"${point}"`), `the server died at ${point}:\n${server.log}`);
  await server.start();
}

/** A sandbox with a file and a process that lives only in memory. */
async function sandboxWithState(isolation: 'container' | 'gvisor'): Promise<Sandbox> {
  const sbx = await Sandbox.create({ ...conn, isolation, metadata: suite });
  await sbx.files.write('/home/user/kept.txt', 'kept');
  await sbx.commands.run('sleep 1000', { background: true });
  return sbx;
}

async function assertServes(sbx: Sandbox): Promise<void> {
  assert.equal((await sbx.getInfo()).state, 'running');
  assert.equal((await sbx.commands.run('echo alive')).stdout, 'alive\n');
  assert.equal(await sbx.files.read('/home/user/kept.txt'), 'kept');
  assert.equal((await sbx.commands.run('pgrep -x sleep', { user: 'root' })).exitCode, 0, 'its process lives on');
}

const snapshotDirs = async () => (await readdir(join(TEST_DATA_DIR, 'snapshots')).catch(() => [])).sort();

describe('kill -9 at a failpoint', () => {
  for (const point of ['snapshot.frozen', 'snapshot.copied'] as const) {
    it(`${point}: the frozen sandbox runs on after the restart and no copy is left`, async () => {
      await ensureStarted();
      const sbx = await sandboxWithState('container');
      const before = await snapshotDirs();
      const name = `fp-${process.pid.toString(36)}-${point.replace('.', '-')}`;
      await dieAt(point, () => sbx.snapshot({ name }));
      await assertServes(sbx);
      assert.deepEqual(await snapshotDirs(), before, 'the cut-short copy is removed');
      assert.ok(!(await Snapshot.list(conn)).some((s) => s.name === name));
      await sbx.kill();
    });
  }

  it('wake.restored (gVisor): a sandbox restored but not yet woken answers after the restart', async () => {
    await ensureStarted();
    const sbx = await sandboxWithState('gvisor');
    await sbx.hibernate({ keepMemory: true });
    await dieAt('wake.restored', () => sbx.resume());
    await assertServes(sbx);
    // The next hibernate finds no stale image in its way, and the one after resumes it.
    await sbx.hibernate({ keepMemory: true });
    await sbx.resume();
    await assertServes(sbx);
    await sbx.kill();
  });

  it('checkpoint.quiesced (gVisor): a sandbox whose agent quiesced for a checkpoint answers after the restart', async () => {
    await ensureStarted();
    const sbx = await sandboxWithState('gvisor');
    await dieAt('checkpoint.quiesced', () => sbx.hibernate({ keepMemory: true }));
    await assertServes(sbx);
    await sbx.kill();
  });
});
