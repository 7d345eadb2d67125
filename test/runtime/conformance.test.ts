// Runtime conformance: one suite, run against every driver (needs root, crun, runsc, and
// scripts/host-prep.sh). Run: node --import tsx --test test/runtime/*.test.ts
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { healthStatus } from '../../packages/server/src/agent-client/lifecycle-client.js';
import { SandboxCgroups } from '../../packages/server/src/runtime/cgroups.js';
import { CrunRuntime } from '../../packages/server/src/runtime/crun-driver.js';
import type { OciRuntimeOptions } from '../../packages/server/src/runtime/oci-runtime.js';
import { RunscRuntime } from '../../packages/server/src/runtime/runsc-driver.js';
import type { Runtime, RuntimeState, SandboxLaunch } from '../../packages/server/src/runtime/runtime.js';
import { UID_BASE } from '../../packages/server/src/runtime/uid-map.js';
import { leftovers } from './fixtures/leak-check.js';
import { execIn, sh } from './fixtures/sandbox-exec.js';
import { TEST_ROOT, testRootfs } from './fixtures/test-rootfs.js';

const run = promisify(execFile);
const AGENT = new URL('./fixtures/stand-in-agent.mjs', import.meta.url).pathname;
// Its own cgroup parent: the suite destroys whatever its runtime lists, and a runtime lists
// the sandboxes under its cgroup parent too, which must never be other suites' sandboxes.
const CGROUP_PARENT = `${process.env.PADDOCK_TEST_CGROUP_PARENT ?? 'paddock-test'}-runtime`;
const HOST_SECRET = join(TEST_ROOT, 'HOST_SECRET');

const drivers: { name: string; gvisor: boolean; make: (o: OciRuntimeOptions) => Runtime }[] = [
  { name: 'crun', gvisor: false, make: (o) => new CrunRuntime(o) },
  { name: 'runsc', gvisor: true, make: (o) => new RunscRuntime(o) },
];

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

for (const driver of drivers) {
  describe(`runtime conformance: ${driver.name}`, () => {
    const dataDir = join(TEST_ROOT, `data-${driver.name}`);
    const cgroups = new SandboxCgroups(CGROUP_PARENT);
    let rt: Runtime;
    let rootfs: string;
    const created = new Set<string>();

    async function createSandbox(overrides: Partial<SandboxLaunch> = {}): Promise<string> {
      const id = newId();
      created.add(id);
      const launch: SandboxLaunch = {
        id,
        rootfs,
        memoryMiB: 256,
        cpus: 1,
        diskMiB: 256,
        pids: 256,
        hostname: 'sandbox',
        agent: { env: {}, defaultUser: 'user', workdir: '/home/user' },
        ...overrides,
      };
      const t0 = performance.now();
      await rt.create(launch);
      console.log(`${driver.name}: create → healthy ${(performance.now() - t0).toFixed(0)} ms`);
      return id;
    }

    async function destroyAndCheck(id: string): Promise<void> {
      await rt.destroy(id);
      created.delete(id);
      assert.deepEqual(await leftovers({ dataDir, cgroupParent: CGROUP_PARENT, id }), []);
      assert.ok(!(await rt.list()).includes(id));
    }

    let a: string;
    let b: string;

    before(async () => {
      rootfs = await testRootfs();
      await mkdir(TEST_ROOT, { recursive: true });
      await writeFile(HOST_SECRET, 'host-secret-value\n');
      rt = driver.make({ dataDir, cgroupParent: CGROUP_PARENT, agentBundle: AGENT });
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

    test('agent is healthy after create and state is running', async () => {
      assert.equal(await healthStatus(rt.agentSocket(a), 2000), 200);
      assert.equal(await rt.state(a), 'running');
      assert.equal(await rt.state(newId()), 'absent');
    });

    test('the template appears root-owned and user exists inside', async () => {
      const r = await sh(rt.agentSocket(a), 'id -u; stat -c %u:%g / /etc/passwd /home/user');
      assert.equal(r.stdout, '0\n0:0\n0:0\n1000:1000\n', r.stderr);
    });

    test('host files are invisible', async () => {
      const r = await sh(rt.agentSocket(a), `cat ${HOST_SECRET}; ls ${TEST_ROOT}; cat /proc/1/root${HOST_SECRET}`);
      assert.doesNotMatch(r.stdout, /host-secret-value/);
      assert.notEqual(r.exitCode, 0);
    });

    test("another sandbox's processes and files are invisible", async () => {
      const sb = rt.agentSocket(b);
      assert.equal((await sh(sb, 'echo b-data > /tmp/b-marker')).exitCode, 0);
      await sh(sb, 'setsid sh -c "exec sleep 3141" </dev/null >/dev/null 2>&1 &');
      assert.match((await sh(sb, 'ps -eo args')).stdout, /sleep 3141/);
      const r = await sh(rt.agentSocket(a), 'ps -eo args; cat /tmp/b-marker');
      assert.doesNotMatch(r.stdout, /sleep 3141|b-data/);
    });

    test('mount, unshare -U and /proc/sys writes fail', async () => {
      const s = rt.agentSocket(a);
      assert.notEqual((await sh(s, 'mount -t tmpfs none /mnt')).exitCode, 0);
      assert.notEqual((await sh(s, 'unshare -U true')).exitCode, 0);
      assert.notEqual((await sh(s, 'echo 1 > /proc/sys/kernel/sysrq')).exitCode, 0);
      assert.notEqual((await sh(s, 'echo 0 > /proc/sys/vm/overcommit_memory')).exitCode, 0);
    });

    test('network: loopback only', async () => {
      const r = await sh(
        rt.agentSocket(a),
        `python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); socket.create_connection(s.getsockname()); print("lo-ok")'; ls /sys/class/net 2>/dev/null; cat /proc/net/dev`,
      );
      assert.match(r.stdout, /lo-ok/);
      assert.doesNotMatch(r.stdout, /eth|veth|ens|enp/);
    });

    test('root inside is not root on the host', async () => {
      const pids = await cgroups.pids(a);
      assert.ok(pids.length > 0);
      const uids: number[] = [];
      for (const pid of pids) {
        const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
        const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
        const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (uid === undefined) continue;
        // crun: every process is a sandbox process. gVisor: sandbox processes live inside the
        // sentry; the host sees runsc's own processes, none of which run the agent.
        if (!driver.gvisor) uids.push(Number(uid));
        else assert.doesNotMatch(cmd, /agent\.js/, 'gVisor: the agent never runs as a host process');
      }
      if (!driver.gvisor)
        assert.ok(
          uids.every((uid) => uid >= UID_BASE),
          `host uids ${uids.join(',')}`,
        );
    });

    test('memory over the limit is OOM-killed and counted', async () => {
      const id = await createSandbox({ memoryMiB: 128 });
      const before = await rt.usage(id);
      const r = await sh(rt.agentSocket(id), 'python3 -c "b = bytearray(512 << 20); print(len(b))"').catch(
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      );
      if (driver.gvisor) {
        // The host OOM killer takes the sentry: the whole sandbox dies (REPORT §6).
        await waitForState(rt, id, 'stopped', 10_000);
      } else {
        assert.ok(!(r instanceof Error) && (r.signal === 'SIGKILL' || r.exitCode === 137), JSON.stringify(r));
        assert.equal(await rt.state(id), 'running', 'crun: the sandbox survives an OOM of one command');
      }
      assert.ok((await rt.usage(id)).oomKills > before.oomKills);
      await destroyAndCheck(id);
    });

    test('a fork bomb stops at the pids limit and the host stays fine', async () => {
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
      if (driver.gvisor && (await rt.state(id)) !== 'running') {
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

    test('a busy loop is held to its CPU quota', async () => {
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

    test('writing past the disk cap gives ENOSPC and the sandbox stays usable', async () => {
      const id = await createSandbox({ diskMiB: 64 });
      const s = rt.agentSocket(id);
      const r = await sh(s, 'dd if=/dev/zero of=/big bs=1M count=100 conv=fsync');
      assert.notEqual(r.exitCode, 0);
      assert.match(r.stderr, /No space left on device/);
      const after = await sh(s, 'rm /big && echo ok > /small && cat /small');
      assert.equal(after.stdout, 'ok\n', after.stderr);
      await destroyAndCheck(id);
    });

    test('destroy leaves nothing and is idempotent', async () => {
      const id = await createSandbox();
      await destroyAndCheck(id);
      await rt.destroy(id);
      assert.equal(await rt.state(id), 'absent');
    });

    test('a failing runtime binary: create fails and cleans up', async () => {
      const script = join(TEST_ROOT, 'fail-runtime.sh');
      await writeFile(script, '#!/bin/sh\necho "injected runtime failure" >&2\nexit 3\n', { mode: 0o755 });
      const faulty = driver.make({ dataDir, cgroupParent: CGROUP_PARENT, agentBundle: AGENT, runtimeBinary: script });
      const id = newId();
      await assert.rejects(
        faulty.create({
          id,
          rootfs,
          memoryMiB: 64,
          cpus: 1,
          diskMiB: 64,
          pids: 64,
          hostname: 'x',
          agent: { env: {}, defaultUser: 'user', workdir: '/' },
        }),
        /injected runtime failure/,
      );
      assert.deepEqual(await leftovers({ dataDir, cgroupParent: CGROUP_PARENT, id }), []);
    });

    test('a hanging runtime binary: create is aborted by the signal and cleans up', async () => {
      const script = join(TEST_ROOT, 'hang-runtime.sh');
      await writeFile(script, '#!/bin/sh\nexec sleep 600\n', { mode: 0o755 });
      const faulty = driver.make({ dataDir, cgroupParent: CGROUP_PARENT, agentBundle: AGENT, runtimeBinary: script });
      const id = newId();
      const abort = new AbortController();
      const pending = faulty.create(
        {
          id,
          rootfs,
          memoryMiB: 64,
          cpus: 1,
          diskMiB: 64,
          pids: 64,
          hostname: 'x',
          agent: { env: {}, defaultUser: 'user', workdir: '/' },
        },
        abort.signal,
      );
      setTimeout(() => abort.abort(new Error('test abort')), 300);
      await assert.rejects(pending, /test abort/);
      assert.deepEqual(await leftovers({ dataDir, cgroupParent: CGROUP_PARENT, id }), []);
    });
  });
}
