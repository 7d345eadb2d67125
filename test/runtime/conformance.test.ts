// Runtime conformance: one suite, run against every implementation of `Runtime` (crun, runsc
// and the fake runtime's host processes), covering every method. What a runtime lacks is
// skipped with the capability it needs, decided from `capabilities()` and `confinement`.
// Needs root, crun, runsc and scripts/host-prep.sh. Run: node --import tsx --test test/runtime/*.test.ts
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { healthStatus } from '../../packages/server/src/agent-client/lifecycle-client.js';
import { armFailpoints, type Failpoint } from '../../packages/server/src/core/failpoints.js';
import type { Runtime, RuntimeState, SandboxLaunch } from '../../packages/server/src/core/seams/runtime.js';
import { isRuntimeError, type RuntimeErrorKind } from '../../packages/server/src/core/seams/runtime-error.js';
import { SandboxCgroups } from '../../packages/server/src/runtime/cgroups.js';
import { UID_BASE } from '../../packages/server/src/runtime/uid-map.js';
import { DRIVERS, faultyBinary, lacks, requires } from './fixtures/drivers.js';
import { leftovers } from './fixtures/leak-check.js';
import { answersWithin, execIn, sh } from './fixtures/sandbox-exec.js';
import { TEST_ROOT, testRootfs } from './fixtures/test-rootfs.js';

const run = promisify(execFile);
const AGENT = new URL('./fixtures/stand-in-agent.mjs', import.meta.url).pathname;
// Its own cgroup parent: the suite destroys whatever its runtime lists, and a runtime lists
// the sandboxes under its cgroup parent too, which must never be other suites' sandboxes.
const CGROUP_PARENT = `${process.env.PADDOCK_TEST_CGROUP_PARENT ?? 'paddock-test'}-runtime`;
const HOST_SECRET = join(TEST_ROOT, 'HOST_SECRET');

function newId(): string {
  return `t${randomBytes(16).toString('hex').slice(0, 19)}`;
}

/** Polls `state()` until it reports `want` (bounded): the runtime's own view is the event. */
async function waitForState(rt: Runtime, id: string, want: RuntimeState, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const state = await rt.state(id);
    if (state === want) return;
    if (Date.now() > deadline) assert.fail(`state of ${id} is ${state}, want ${want} within ${timeoutMs} ms`);
    await delay(Math.min(10 * 2 ** attempt, 200));
  }
}

/** Asserts that `call` rejects with a RuntimeError of `kind`. */
async function rejectsWithKind(call: Promise<unknown>, kind: RuntimeErrorKind): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(isRuntimeError(error, kind), `want a RuntimeError '${kind}', got ${String(error)}`);
    return true;
  });
}

/** Runs `work` with `name` armed to throw, as if the server died there (its own failpoint handler). */
async function withFailpoint(name: Failpoint, work: () => Promise<void>): Promise<void> {
  armFailpoints([name], (hit) => {
    throw new Error(`injected crash at ${hit}`);
  });
  try {
    await work();
  } finally {
    armFailpoints([], () => {});
  }
}

for (const driver of DRIVERS) {
  describe(`runtime conformance: ${driver.name}`, () => {
    const dataDir = join(TEST_ROOT, `data-${driver.name}`);
    const setup = { dataDir, cgroupParent: CGROUP_PARENT, agentBundle: AGENT };
    const cgroups = new SandboxCgroups(CGROUP_PARENT);
    // Made now, not in before(): the skips are decided from what it says of itself.
    const rt = driver.make(setup);
    let rootfs: string;
    const created = new Set<string>();

    function launchOf(overrides: Partial<SandboxLaunch> = {}): SandboxLaunch {
      return {
        id: newId(),
        rootfs,
        memoryMiB: 256,
        cpus: 1,
        diskMiB: 256,
        pids: 256,
        hostname: 'sandbox',
        agent: { env: {}, defaultUser: 'user', workdir: '/home/user' },
        ...overrides,
      };
    }

    async function createSandbox(overrides: Partial<SandboxLaunch> = {}): Promise<string> {
      const launch = launchOf(overrides);
      created.add(launch.id);
      const t0 = performance.now();
      await rt.create(launch);
      console.log(`${driver.name}: create → healthy ${(performance.now() - t0).toFixed(0)} ms`);
      return launch.id;
    }

    async function destroyAndCheck(id: string): Promise<void> {
      await rt.destroy(id);
      created.delete(id);
      assert.deepEqual(await leftovers({ dataDir, cgroupParent: CGROUP_PARENT, id }), []);
      assert.ok(!(await rt.list()).includes(id));
    }

    /** A process only this test started, to tell whether processes survived a step. */
    async function startMarkerProcess(id: string): Promise<string> {
      const marker = `sleep ${randomInt(100_000, 999_999)}`;
      await sh(rt.agentSocket(id), `setsid sh -c "exec ${marker}" </dev/null >/dev/null 2>&1 &`);
      assert.match((await sh(rt.agentSocket(id), 'ps -eo args')).stdout, new RegExp(marker));
      return marker;
    }

    let a: string;
    let b: string;

    before(async () => {
      rootfs = await testRootfs();
      await mkdir(TEST_ROOT, { recursive: true });
      await writeFile(HOST_SECRET, 'host-secret-value\n');
      // The data dir belongs to this suite: sweep what an interrupted earlier run left (this is
      // also the reconcile path: destroy of whatever list() reports).
      for (const id of await rt.list()) await rt.destroy(id);
      a = await createSandbox();
      b = await createSandbox();
    });

    after(async () => {
      const errors: unknown[] = [];
      for (const id of created) await rt.destroy(id).catch((e: unknown) => errors.push(e));
      await rm(HOST_SECRET, { force: true });
      assert.deepEqual(errors, []);
      assert.deepEqual(await rt.list(), [], 'no sandbox resources left after the suite');
    });

    test('agent is healthy after create; state, list and capabilities say so', async () => {
      assert.equal(await healthStatus(rt.agentSocket(a), 2000), 200);
      assert.equal(await rt.state(a), 'running');
      assert.equal(await rt.state(newId()), 'absent');
      assert.deepEqual((await rt.list()).filter((id) => id === a || id === b).sort(), [a, b].sort());
      const caps = rt.capabilities();
      assert.equal(caps.pause, true);
      for (const value of Object.values(caps)) assert.equal(typeof value, 'boolean');
    });

    test('usage reports memory, and zero OOM kills for a sandbox that had none', async () => {
      const usage = await rt.usage(a);
      assert.ok(usage.memoryBytes > 0, JSON.stringify(usage));
      assert.equal(usage.oomKills, 0);
    });

    test('a call on an absent sandbox is not-found', async () => {
      const id = newId();
      await rejectsWithKind(rt.pause(id), 'not-found');
      await rejectsWithKind(rt.resume(id), 'not-found');
      await rejectsWithKind(rt.hibernate(id, 'filesystem'), 'not-found');
      await rejectsWithKind(rt.wake(id), 'not-found');
      await rejectsWithKind(rt.usage(id), 'not-found');
      await rejectsWithKind(rt.checkpointOf(id), 'not-found');
      await rejectsWithKind(rt.reviveAgent(id), 'not-found');
      await rejectsWithKind(rt.exportLayer(id, join(TEST_ROOT, `export-${id}`)), 'not-found');
    });

    test('create of an id in use is a conflict and leaves the running sandbox alone', async () => {
      await rejectsWithKind(rt.create(launchOf({ id: a })), 'conflict');
      assert.equal(await healthStatus(rt.agentSocket(a), 2000), 200);
    });

    test('the template appears root-owned and user exists inside', requires(rt, 'isolated'), async () => {
      const r = await sh(rt.agentSocket(a), 'id -u; stat -c %u:%g / /etc/passwd /home/user');
      assert.equal(r.stdout, '0\n0:0\n0:0\n1000:1000\n', r.stderr);
    });

    test('host files are invisible', requires(rt, 'isolated'), async () => {
      const r = await sh(rt.agentSocket(a), `cat ${HOST_SECRET}; ls ${TEST_ROOT}; cat /proc/1/root${HOST_SECRET}`);
      assert.doesNotMatch(r.stdout, /host-secret-value/);
      assert.notEqual(r.exitCode, 0);
    });

    test("another sandbox's processes and files are invisible", requires(rt, 'isolated'), async () => {
      const sb = rt.agentSocket(b);
      assert.equal((await sh(sb, 'echo b-data > /tmp/b-marker')).exitCode, 0);
      await sh(sb, 'setsid sh -c "exec sleep 3141" </dev/null >/dev/null 2>&1 &');
      assert.match((await sh(sb, 'ps -eo args')).stdout, /sleep 3141/);
      const r = await sh(rt.agentSocket(a), 'ps -eo args; cat /tmp/b-marker');
      assert.doesNotMatch(r.stdout, /sleep 3141|b-data/);
    });

    test('mount, unshare -U and /proc/sys writes fail', requires(rt, 'isolated'), async () => {
      const s = rt.agentSocket(a);
      assert.notEqual((await sh(s, 'mount -t tmpfs none /mnt')).exitCode, 0);
      assert.notEqual((await sh(s, 'unshare -U true')).exitCode, 0);
      assert.notEqual((await sh(s, 'echo 1 > /proc/sys/kernel/sysrq')).exitCode, 0);
      assert.notEqual((await sh(s, 'echo 0 > /proc/sys/vm/overcommit_memory')).exitCode, 0);
    });

    test('network: loopback only', requires(rt, 'isolated'), async () => {
      const r = await sh(
        rt.agentSocket(a),
        `python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); socket.create_connection(s.getsockname()); print("lo-ok")'; ls /sys/class/net 2>/dev/null; cat /proc/net/dev`,
      );
      assert.match(r.stdout, /lo-ok/);
      assert.doesNotMatch(r.stdout, /eth|veth|ens|enp/);
    });

    test('root inside is not root on the host', requires(rt, 'isolated'), async () => {
      const pids = await cgroups.pids(a);
      assert.ok(pids.length > 0);
      const gvisor = rt.isolation === 'gvisor';
      const uids: number[] = [];
      for (const pid of pids) {
        const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
        const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
        const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (uid === undefined) continue;
        // crun: every process is a sandbox process. gVisor: sandbox processes live inside the
        // sentry; the host sees runsc's own processes, none of which run the agent.
        if (!gvisor) uids.push(Number(uid));
        else assert.doesNotMatch(cmd, /agent\.js/, 'gVisor: the agent never runs as a host process');
      }
      if (!gvisor)
        assert.ok(
          uids.every((uid) => uid >= UID_BASE),
          `host uids ${uids.join(',')}`,
        );
    });

    test('memory over the limit is OOM-killed and counted', requires(rt, 'limited'), async () => {
      const id = await createSandbox({ memoryMiB: 128 });
      const before = await rt.usage(id);
      const r = await sh(rt.agentSocket(id), 'python3 -c "b = bytearray(512 << 20); print(len(b))"').catch(
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      );
      if (!rt.capabilities().perProcessOom) {
        // The host OOM killer takes the sentry: the whole sandbox dies (REPORT §6).
        await waitForState(rt, id, 'stopped', 10_000);
      } else {
        assert.ok(!(r instanceof Error) && (r.signal === 'SIGKILL' || r.exitCode === 137), JSON.stringify(r));
        assert.equal(await rt.state(id), 'running', 'the sandbox survives an OOM of one command');
      }
      assert.ok((await rt.usage(id)).oomKills > before.oomKills);
      await destroyAndCheck(id);
    });

    test('a fork bomb stops at the pids limit and the host stays fine', requires(rt, 'limited'), async () => {
      const id = await createSandbox({ pids: 64 });
      const bomb = [
        'import os, time',
        'os.setsid()',
        'n = 0',
        'try:',
        '    while True:',
        '        if os.fork() == 0:',
        '            time.sleep(60); os._exit(0)',
        '        n += 1',
        'except OSError as e:',
        '    print("fork failed after", n, e.errno, flush=True)',
        'os.killpg(0, 9)',
      ].join('\n');
      const result = await execIn(rt.agentSocket(id), ['python3', '-c', bomb], { timeoutMs: 20_000 }).catch(
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      );
      if (rt.isolation === 'gvisor' && (await rt.state(id)) !== 'running') {
        // The host pids cgroup counts sentry threads and stubs: hitting it can kill the whole
        // sandbox (REPORT §6). Then state must say so.
        assert.equal(await rt.state(id), 'stopped');
      } else {
        assert.ok(!(result instanceof Error), String(result));
        assert.match(result.stdout, /fork failed after \d+ 11/, JSON.stringify(result));
        assert.equal(await rt.state(id), 'running');
      }
      const pidsMax = Number((await readFile(`/sys/fs/cgroup/pids/${CGROUP_PARENT}/${id}/pids.max`, 'utf8')).trim());
      assert.equal(pidsMax, 64);
      const t0 = performance.now();
      await run('/bin/true');
      assert.ok(performance.now() - t0 < 1000, 'host still forks quickly');
      await destroyAndCheck(id);
    });

    test('a busy loop is held to its CPU quota', requires(rt, 'limited'), async () => {
      const id = await createSandbox({ cpus: 0.5 });
      const busy = sh(rt.agentSocket(id), 'timeout 4 sh -c "while :; do :; done & while :; do :; done"', {
        timeoutMs: 10_000,
      });
      await delay(500); // let both loops start
      const u0 = await cgroups.cpuUsageNs(id);
      const t0 = performance.now();
      await delay(2000); // the measurement window itself
      const cpus = (await cgroups.cpuUsageNs(id)) - u0;
      const used = cpus / 1e6 / (performance.now() - t0);
      await busy;
      assert.ok(used > 0.3 && used < 0.65, `used ${used.toFixed(3)} CPUs with a 0.5 CPU quota`);
      await destroyAndCheck(id);
    });

    test('writing past the disk cap gives ENOSPC and the sandbox stays usable', requires(rt, 'limited'), async () => {
      const id = await createSandbox({ diskMiB: 64 });
      const s = rt.agentSocket(id);
      const r = await sh(s, 'dd if=/dev/zero of=/big bs=1M count=100 conv=fsync');
      assert.notEqual(r.exitCode, 0);
      assert.match(r.stderr, /No space left on device/);
      const after = await sh(s, 'rm /big && echo ok > /small && cat /small');
      assert.equal(after.stdout, 'ok\n', after.stderr);
      await destroyAndCheck(id);
    });

    test('pause freezes and resume thaws, both idempotent', requires(rt, 'pause'), async () => {
      const id = await createSandbox();
      await rt.pause(id);
      await rt.pause(id);
      assert.equal(await rt.state(id), 'paused');
      // Frozen: the socket still accepts, nothing answers (bounded: the wait is the assertion).
      assert.equal(await answersWithin(rt.agentSocket(id), 300), false);
      await rt.resume(id);
      await rt.resume(id);
      assert.equal(await rt.state(id), 'running');
      assert.equal(await healthStatus(rt.agentSocket(id), 2000), 200);
      await destroyAndCheck(id);
    });

    test('hibernate (filesystem) keeps files, not processes; wake says so', async () => {
      const id = await createSandbox();
      const marker = await startMarkerProcess(id);
      assert.equal((await sh(rt.agentSocket(id), 'echo kept > hibernate-marker')).exitCode, 0);
      await rt.pause(id); // a paused sandbox is thawed first
      await rt.hibernate(id, 'filesystem');
      assert.equal(await rt.state(id), 'stopped');
      assert.equal(await rt.checkpointOf(id), 'none');
      assert.deepEqual(await rt.usage(id), { memoryBytes: 0, oomKills: 0 });
      assert.equal(await rt.reviveAgent(id), false, 'a stopped sandbox has no agent to revive');
      assert.equal(await rt.wake(id), 'filesystem');
      assert.equal(await rt.state(id), 'running');
      const r = await sh(rt.agentSocket(id), 'cat hibernate-marker; ps -eo args');
      assert.match(r.stdout, /^kept\n/);
      assert.doesNotMatch(r.stdout, new RegExp(marker), 'processes restart after a filesystem hibernate');
      assert.equal(await rt.reviveAgent(id), true);
      await destroyAndCheck(id);
    });

    test('hibernate (memory) keeps processes; wake says so', requires(rt, 'hibernateWithMemory'), async () => {
      const id = await createSandbox();
      const marker = await startMarkerProcess(id);
      await rt.hibernate(id, 'memory');
      assert.equal(await rt.state(id), 'stopped');
      assert.equal(await rt.checkpointOf(id), 'complete');
      assert.equal(await rt.wake(id), 'memory');
      assert.equal(await rt.checkpointOf(id), 'none');
      assert.match((await sh(rt.agentSocket(id), 'ps -eo args')).stdout, new RegExp(marker));
      await destroyAndCheck(id);
    });

    test('hibernate (memory) where unsupported is not-supported', lacks(rt, 'hibernateWithMemory'), async () => {
      await rejectsWithKind(rt.hibernate(a, 'memory'), 'not-supported');
      assert.equal(await rt.state(a), 'running');
    });

    test(
      'a hibernate cut short after its checkpoint leaves a partial one that wake restores',
      requires(rt, 'hibernateWithMemory'),
      async () => {
        const id = await createSandbox();
        const marker = await startMarkerProcess(id);
        await withFailpoint('hibernate.checkpointed', () =>
          assert.rejects(rt.hibernate(id, 'memory'), /injected crash/),
        );
        assert.equal(await rt.checkpointOf(id), 'partial');
        assert.equal(await rt.wake(id), 'memory');
        assert.match((await sh(rt.agentSocket(id), 'ps -eo args')).stdout, new RegExp(marker));
        await destroyAndCheck(id);
      },
    );

    test(
      'reviveAgent wakes an agent left quiesced by a cut-short checkpoint',
      requires(rt, 'hibernateWithMemory'),
      async () => {
        const id = await createSandbox();
        await withFailpoint('checkpoint.quiesced', () => assert.rejects(rt.hibernate(id, 'memory'), /injected crash/));
        assert.equal(existsSync(rt.agentSocket(id)), false, 'the agent is quiesced');
        assert.equal(await rt.reviveAgent(id), true);
        assert.equal(await healthStatus(rt.agentSocket(id), 2000), 200);
        assert.equal(await rt.checkpointOf(id), 'none');
        await destroyAndCheck(id);
      },
    );

    test('fork starts children from the running parent, same processes and files', requires(rt, 'fork'), async () => {
      const parent = await createSandbox();
      const marker = await startMarkerProcess(parent);
      assert.equal((await sh(rt.agentSocket(parent), 'echo parent > fork-marker')).exitCode, 0);
      const child = launchOf();
      created.add(child.id);
      await rt.fork(parent, [child]);
      assert.equal(await rt.state(parent), 'running');
      assert.equal(await healthStatus(rt.agentSocket(parent), 2000), 200);
      const r = await sh(rt.agentSocket(child.id), 'cat fork-marker; ps -eo args');
      assert.match(r.stdout, /^parent\n/);
      assert.match(r.stdout, new RegExp(marker));
      await destroyAndCheck(child.id);
      await destroyAndCheck(parent);
    });

    test('fork where unsupported is not-supported and starts nothing', lacks(rt, 'fork'), async () => {
      const child = launchOf();
      await rejectsWithKind(rt.fork(a, [child]), 'not-supported');
      assert.equal(await rt.state(child.id), 'absent');
    });

    test('exportLayer copies the sandbox’s changes to a new dir', async () => {
      const dest = join(TEST_ROOT, `export-${driver.name}-${newId()}`, 'layer');
      assert.equal((await sh(rt.agentSocket(a), 'echo exported > export-marker')).exitCode, 0);
      try {
        await rt.exportLayer(a, dest);
        assert.equal(await readFile(join(dest, 'export-marker'), 'utf8'), 'exported\n');
      } finally {
        await rm(join(dest, '..'), { recursive: true, force: true });
      }
    });

    test('destroy leaves nothing and is idempotent', async () => {
      const id = await createSandbox();
      await destroyAndCheck(id);
      await rt.destroy(id);
      assert.equal(await rt.state(id), 'absent');
    });

    test('a failing runtime binary: create fails and cleans up', async () => {
      const faulty = driver.make(setup, await faultyBinary('fail'));
      const launch = launchOf({ memoryMiB: 64, diskMiB: 64, pids: 64 });
      await assert.rejects(faulty.create(launch), (error: unknown) => {
        assert.ok(isRuntimeError(error, 'failed'), String(error));
        assert.match(String(error), /injected runtime failure/);
        return true;
      });
      assert.deepEqual(await leftovers({ dataDir, cgroupParent: CGROUP_PARENT, id: launch.id }), []);
      assert.ok(!(await faulty.list()).includes(launch.id));
    });

    test('a hanging runtime binary: create is aborted by the signal and cleans up', async () => {
      const faulty = driver.make(setup, await faultyBinary('hang'));
      const launch = launchOf({ memoryMiB: 64, diskMiB: 64, pids: 64 });
      const abort = new AbortController();
      const pending = faulty.create(launch, abort.signal);
      setTimeout(() => abort.abort(new Error('test abort')), 300);
      await assert.rejects(pending, (error: unknown) => error === abort.signal.reason);
      assert.deepEqual(await leftovers({ dataDir, cgroupParent: CGROUP_PARENT, id: launch.id }), []);
      assert.ok(!(await faulty.list()).includes(launch.id));
    });

    test('a call whose signal is already aborted rejects with its reason and does nothing', async () => {
      const reason = new Error('aborted before the call');
      const signal = AbortSignal.abort(reason);
      const launch = launchOf();
      await assert.rejects(rt.create(launch, signal), (error: unknown) => error === reason);
      await assert.rejects(rt.pause(a, signal), (error: unknown) => error === reason);
      assert.equal(await rt.state(launch.id), 'absent');
      assert.equal(await rt.state(a), 'running');
    });
  });
}
