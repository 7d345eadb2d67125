// The crash-consistency matrix: for each failpoint (packages/server/src/core/failpoints.ts) and
// isolation, set a sandbox up, run the operation with the server armed to die at that point,
// restart it clean and check the invariants. Used by test/e2e/failpoints.test.ts (a subset, in
// `npm test`) and bench/chaos.ts (all of it, `npm run chaos`, report in docs/reliability.md).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Sandbox, Snapshot, Volume } from '@paddock/sdk';
import type { Failpoint } from '../../packages/server/src/core/failpoints.js';
import { TEST_API_KEY, TEST_CGROUP_PARENT, TEST_DATA_DIR } from './env.js';
import { waitFor } from './server.js';
import type { ServerProcess } from './server-process.js';

type Isolation = 'container' | 'gvisor';
/** What the sandbox is before the operation. */
type Setup = 'none' | 'running' | 'paused' | 'hibernated';

export interface ChaosCase {
  point: Failpoint;
  isolation: Isolation;
  setup: Setup;
  /** The operation the server dies in. */
  op: (sbx: Sandbox | undefined, conn: Conn) => Promise<unknown>;
  /** What the operation is, for the report. */
  what: string;
  /** Set-up of this operation beyond `setup`, before the server is armed. */
  prepare?: (conn: Conn) => Promise<void>;
  /** Invariants of this operation, after the generic ones. */
  check?: (conn: Conn, sbx: Sandbox | undefined) => Promise<void>;
}

interface Conn {
  apiUrl: string;
  apiKey: string;
}

const label = { suite: 'chaos' };
const keepMemory = (isolation: Isolation) => isolation === 'gvisor';

const hibernateIn = (isolation: Isolation) => (sbx: Sandbox | undefined) =>
  sbx!.hibernate({ keepMemory: keepMemory(isolation) });

/** Every failpoint with the operation that passes it, per isolation that has the step. */
export const CHAOS_CASES: ChaosCase[] = (['container', 'gvisor'] as const).flatMap((isolation) => {
  const gvisor = isolation === 'gvisor';
  const hibernate = hibernateIn(isolation);
  const fork = (s: Sandbox | undefined, conn: Conn) => Sandbox.fork(s!.id, { ...conn, count: 1 });
  const cases: ChaosCase[] = [
    {
      point: 'create.booted',
      isolation,
      setup: 'none',
      what: 'create',
      op: (_s, conn) => Sandbox.create({ ...conn, isolation, metadata: label }),
    },
    { point: 'kill.stopping', isolation, setup: 'running', what: 'kill', op: (s) => s!.kill() },
    { point: 'kill.destroyed', isolation, setup: 'running', what: 'kill', op: (s) => s!.kill() },
    { point: 'pause.frozen', isolation, setup: 'running', what: 'pause', op: (s) => s!.pause() },
    { point: 'resume.thawed', isolation, setup: 'paused', what: 'resume (paused)', op: (s) => s!.resume() },
    { point: 'hibernate.checkpointed', isolation, setup: 'running', what: 'hibernate', op: hibernate },
    { point: 'hibernate.stopped', isolation, setup: 'running', what: 'hibernate', op: hibernate },
    { point: 'wake.started', isolation, setup: 'hibernated', what: 'resume (hibernated)', op: (s) => s!.resume() },
    {
      point: 'snapshot.frozen',
      isolation,
      setup: 'running',
      what: 'snapshot',
      op: (s) => s!.snapshot({ name: `chaos-${s!.id}` }),
    },
    {
      point: 'snapshot.copied',
      isolation,
      setup: 'running',
      what: 'snapshot',
      op: (s) => s!.snapshot({ name: `chaos-${s!.id}` }),
    },
  ];
  cases.push({
    point: 'upload.streaming',
    isolation,
    setup: 'running',
    what: 'upload',
    op: (s) => s!.files.write('/home/user/big.bin', Readable.from(chunks(16))),
    check: async (_conn, s) => {
      // The write is atomic: no partial file, and the agent removed its temp file.
      assert.equal(await s!.files.exists('/home/user/big.bin'), false, 'no partial upload');
    },
  });
  if (!gvisor) {
    const name = `chaos-vol-${process.pid.toString(36)}`;
    cases.push({
      point: 'volume.made',
      isolation,
      setup: 'none',
      what: 'volume create',
      op: (_s, conn) => Volume.create({ ...conn, name, sizeMiB: 32 }),
      check: async (conn) => {
        assert.ok(!(await Volume.list(conn)).some((v) => v.name === name), 'the cut-short volume is not listed');
        assert.ok(!existsSync(join(TEST_DATA_DIR, 'volumes', name)), 'its disk is removed');
        await Volume.create({ ...conn, name, sizeMiB: 32 });
        await Volume.delete(name, conn);
      },
    });
    const attached = `chaos-att-${process.pid.toString(36)}`;
    cases.push({
      point: 'create.booted',
      isolation,
      setup: 'none',
      what: 'create with a volume',
      prepare: async (conn) => {
        await Volume.create({ ...conn, name: attached, sizeMiB: 32 });
        const writer = await Sandbox.create({ ...conn, isolation, volumes: [{ name: attached, path: '/mnt/v' }] });
        await writer.files.write('/mnt/v/kept.txt', 'volume data');
        await writer.kill();
      },
      op: (_s, conn) =>
        Sandbox.create({ ...conn, isolation, metadata: label, volumes: [{ name: attached, path: '/mnt/v' }] }),
      check: async (conn) => {
        // The volume and its data outlive the cut-short create, and it attaches again.
        const reader = await Sandbox.create({ ...conn, isolation, volumes: [{ name: attached, path: '/mnt/v' }] });
        assert.equal(await reader.files.read('/mnt/v/kept.txt'), 'volume data');
        await reader.kill();
        await Volume.delete(attached, conn);
      },
    });
  }
  if (gvisor) {
    cases.push(
      { point: 'checkpoint.quiesced', isolation, setup: 'running', what: 'hibernate', op: hibernate },
      { point: 'wake.restored', isolation, setup: 'hibernated', what: 'resume (hibernated)', op: (s) => s!.resume() },
      { point: 'checkpoint.quiesced', isolation, setup: 'running', what: 'fork', op: fork },
      { point: 'fork.started', isolation, setup: 'running', what: 'fork', op: fork },
    );
  }
  return cases;
});

/** `count` MiB of zeros in 1 MiB chunks. */
function* chunks(count: number): Generator<Buffer> {
  for (let i = 0; i < count; i++) yield Buffer.alloc(1 << 20);
}

/** The name a case goes by in test titles and the report. */
export const caseName = (c: ChaosCase) => `${c.isolation}: ${c.what}, killed at ${c.point}`;

/**
 * Runs one case against `server` (started or not) and checks the invariants after the restart:
 * - the API state of every sandbox the case made is stable (running, paused, hibernated or
 *   killed) — never a transitional state, never `error`;
 * - every sandbox it calls running answers a command; a paused or hibernated one resumes;
 * - the user's state is kept: the file it wrote, and the process that lives only in memory
 *   unless the sandbox was hibernated without its memory;
 * - nothing is left of a sandbox that is gone, or of every sandbox once the case kills them
 *   (sandbox dir, cgroups, mounts, network dir, runtime state), nor of a cut-short snapshot.
 * Resolves with a line for the report; throws on a broken invariant.
 */
export async function runCase(server: ServerProcess, c: ChaosCase): Promise<string> {
  const conn: Conn = { apiUrl: server.url, apiKey: TEST_API_KEY };
  await ensureStarted(server);
  const snapshotsBefore = snapshotDirs();
  let sbx: Sandbox | undefined;
  if (c.setup !== 'none') {
    sbx = await Sandbox.create({ ...conn, isolation: c.isolation, metadata: label });
    await sbx.files.write('/home/user/kept.txt', 'kept');
    await sbx.commands.run('sleep 1000', { background: true });
    if (c.setup === 'paused') await sbx.pause();
    if (c.setup === 'hibernated') await hibernateIn(c.isolation)(sbx);
  }
  const memoryKept = c.setup !== 'hibernated' || keepMemory(c.isolation);
  await c.prepare?.(conn);

  // The operation, with the server armed to die at the point.
  await server.stop('SIGTERM');
  await server.start({ PADDOCK_FAILPOINTS: c.point });
  const outcome = await c.op(sbx, conn).then(
    () => 'finished',
    () => 'cut',
  );
  await server.exited();
  assert.equal(outcome, 'cut', 'the server should have died in the call');
  assert.ok(server.log.includes(`"failpoint":"${c.point}"`), `the server died at ${c.point}`);
  await server.start();

  const infos = await Sandbox.list({ ...conn, metadata: label });
  const ids = new Set(infos.map((i) => i.id));
  if (sbx) ids.add(sbx.id);
  const states: string[] = [];
  for (const id of ids) {
    const state = await waitFor(`a stable state of ${id}`, async () => {
      const s = (await Sandbox.handle(id, conn).getInfo()).state;
      return ['running', 'paused', 'hibernated', 'killed', 'error'].includes(s) ? s : undefined;
    });
    states.push(state);
    assert.notEqual(state, 'error', `sandbox ${id} is error after the restart`);
    if (state === 'killed') continue;
    const back = Sandbox.handle(id, conn);
    if (state !== 'running') await back.resume();
    assert.equal((await back.commands.run('echo alive')).stdout, 'alive\n', `${id} answers`);
    if (id === sbx?.id) {
      assert.equal(await back.files.read('/home/user/kept.txt'), 'kept', 'its file is kept');
      // A sandbox hibernated without memory restarts its processes; otherwise they live on.
      const restarted = !memoryKept || (state === 'hibernated' && !keepMemory(c.isolation));
      if (!restarted) {
        const alive = await back.commands.run('pgrep -x sleep', { user: 'root' });
        assert.equal(alive.exitCode, 0, 'its in-memory process lives on');
      }
    }
  }
  if (sbx && states[[...ids].indexOf(sbx.id)] !== 'killed') {
    const temps = await Sandbox.handle(sbx.id, conn).commands.run("find / -xdev -name '*.paddock-tmp' 2>/dev/null", {
      user: 'root',
    });
    assert.equal(temps.stdout, '', 'no temp file of the agent is left');
  }
  await c.check?.(conn, sbx);
  // Cut-short snapshots leave nothing the API does not list.
  const listed = new Set((await Snapshot.list(conn)).map((s) => s.name));
  assert.ok(![...listed].some((n) => n === `chaos-${sbx?.id}`), 'a cut-short snapshot is not listed');
  assert.deepEqual(snapshotDirs(), snapshotsBefore, 'no snapshot copy is left');

  for (const id of ids) await Sandbox.kill(id, conn).catch(() => undefined);
  for (const id of ids) assert.deepEqual(leftoversOf(id), [], `nothing is left of ${id}`);
  return `${caseName(c)}: ${outcome}; after the restart ${states.join(', ') || 'no sandbox (the create was undone)'}`;
}

async function ensureStarted(server: ServerProcess): Promise<void> {
  const child = server.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) await server.start();
}

function snapshotDirs(): string[] {
  const dir = join(TEST_DATA_DIR, 'snapshots');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** What a sandbox that is gone may not leave: its dirs, cgroups, mounts and runtime state. */
export function leftoversOf(id: string): string[] {
  const found: string[] = [];
  for (const path of [join(TEST_DATA_DIR, 'sandboxes', id), join(TEST_DATA_DIR, 'network', id)]) {
    if (existsSync(path)) found.push(path);
  }
  for (const controller of readdirSync('/sys/fs/cgroup')) {
    const dir = join('/sys/fs/cgroup', controller, TEST_CGROUP_PARENT, id);
    if (existsSync(dir)) found.push(dir);
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[4] ?? '';
    if (mountPoint.includes(id)) found.push(`mount ${mountPoint}`);
  }
  const runtimeDir = join(TEST_DATA_DIR, 'runtime');
  if (existsSync(runtimeDir)) {
    for (const runtime of readdirSync(runtimeDir)) {
      if (existsSync(join(runtimeDir, runtime, id))) found.push(`${runtime} state ${id}`);
    }
  }
  return found;
}
