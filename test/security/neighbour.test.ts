// Threat table, noisy neighbour (issue 12 item 11): what a sandbox's workload may take from its
// neighbours and from its own agent. The mechanisms are asserted here (cgroup files, rlimits,
// where commands run); what they buy in milliseconds is measured by bench/neighbour.bench.ts.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { WORKLOAD_CPU_SHARES } from '../../packages/server/src/runtime/cgroups.js';
import { nprocLimit, SANDBOX_CPU_SHARES } from '../../packages/server/src/runtime/oci-spec.js';
import { TEST_CGROUP_PARENT } from '../support/env.js';
import { useTestServer } from '../support/server.js';

const CPU_MOUNT = '/dev/paddock-cpu';

const { sandbox } = useTestServer();

function cgroupFile(controller: string, id: string, file: string): Promise<string> {
  return readFile(join('/sys/fs/cgroup', controller, TEST_CGROUP_PARENT, id, file), 'utf8').then((s) => s.trim());
}

/** The cpu cgroup line of /proc/<pid>/task/<tid>/cgroup on the host. */
async function hostCpuCgroup(pid: number, tid = pid): Promise<string> {
  const lines = (await readFile(`/proc/${pid}/task/${tid}/cgroup`, 'utf8')).split('\n');
  return lines.find((l) => /^\d+:cpu:/.test(l))?.replace(/^\d+:cpu:/, '') ?? '';
}

/** The agent's host pid: the only child of the sandbox's init (tini). */
async function agentPid(id: string): Promise<number> {
  for (const pid of (await cgroupFile('cpu', id, 'cgroup.procs')).split('\n').map(Number)) {
    const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim();
    if ((await readFile(`/proc/${pid}/comm`, 'utf8')).trim().startsWith('tini')) return Number(children.split(' ')[0]);
  }
  throw new Error(`no tini in sandbox ${id}'s cpu cgroup`);
}

describe('noisy neighbour (crun)', () => {
  test("a sandbox's workload cannot outweigh its own agent: commands run in a low-weight cpu child cgroup, every sandbox at the same weight", async () => {
    const small = await sandbox({ cpus: 0.5 });
    const big = await sandbox({ cpus: 2 });
    // Equal weight whatever `cpus` asks for; `cpus` is only the quota.
    for (const [sbx, quotaUs] of [
      [small, 50_000],
      [big, 200_000],
    ] as const) {
      assert.equal(await cgroupFile('cpu', sbx.id, 'cpu.shares'), String(SANDBOX_CPU_SHARES));
      assert.equal(await cgroupFile('cpu', sbx.id, 'cpu.cfs_quota_us'), String(quotaUs));
    }
    assert.equal(await cgroupFile('cpu', small.id, 'workload/cpu.shares'), String(WORKLOAD_CPU_SHARES));
    assert.ok(WORKLOAD_CPU_SHARES < SANDBOX_CPU_SHARES);

    // Commands (as user and as root), and what they leave running, start in `workload`.
    const show = 'grep -E "^[0-9]+:cpu:" /proc/self/cgroup';
    for (const user of ['user', 'root']) {
      const r = await small.commands.run(show, { user });
      assert.equal(r.stdout.trim().replace(/^\d+:/, ''), 'cpu:/workload', `${user}: ${r.stdout}`);
    }
    await small.commands.run('sleep 300 >/dev/null 2>&1 &');
    const inWorkload = (await cgroupFile('cpu', small.id, 'workload/cgroup.procs')).split('\n').filter(Boolean);
    const agent = await agentPid(small.id);
    assert.equal(inWorkload.length, 1, 'the background sleep is in the workload cgroup');
    assert.ok(!inWorkload.includes(String(agent)), 'the agent is not');
    // The agent's main thread moved back after each spawn.
    assert.equal(await hostCpuCgroup(agent), `/${TEST_CGROUP_PARENT}/${small.id}`);
  });

  test('a sandbox cannot raise its CPU weight or quota, or make cgroups, through its writable cpu cgroup', async () => {
    const sbx = await sandbox({ cpus: 0.5 });
    const attempts = [
      `echo 262144 > ${CPU_MOUNT}/cpu.shares`,
      `echo -1 > ${CPU_MOUNT}/cpu.cfs_quota_us`,
      `echo 262144 > ${CPU_MOUNT}/workload/cpu.shares`,
      `echo -1 > ${CPU_MOUNT}/workload/cpu.cfs_quota_us`,
      `mkdir ${CPU_MOUNT}/escape`,
      `mkdir ${CPU_MOUNT}/workload/nested`,
    ];
    for (const user of ['root', 'user']) {
      for (const attempt of attempts) {
        const r = await sbx.commands.run(attempt, { user, throwOnError: false });
        assert.notEqual(r.exitCode, 0, `${user}: ${attempt} must fail`);
        assert.match(r.stderr, /Permission denied/, `${user}: ${attempt}: ${r.stderr}`);
      }
    }
    // Control: the one delegated door, moving oneself into the workload cgroup, works for root;
    // `user` may not touch the agent's group.
    assert.equal((await sbx.commands.run(`echo 0 > ${CPU_MOUNT}/workload/tasks`, { user: 'root' })).exitCode, 0);
    const asUser = await sbx.commands.run(`echo 0 > ${CPU_MOUNT}/tasks`, { throwOnError: false });
    assert.match(asUser.stderr, /Permission denied/);
    assert.equal(await cgroupFile('cpu', sbx.id, 'cpu.shares'), String(SANDBOX_CPU_SHARES));
    assert.equal(await cgroupFile('cpu', sbx.id, 'cpu.cfs_quota_us'), '50000');
    assert.deepEqual(
      (await readdir(join('/sys/fs/cgroup/cpu', TEST_CGROUP_PARENT, sbx.id), { withFileTypes: true }))
        .filter((e) => e.isDirectory())
        .map((e) => e.name),
      ['workload'],
    );
  });

  test("a fork bomb of the sandbox's user stops at RLIMIT_NPROC, before the costly pids cap, and the agent still starts commands beside it", async () => {
    const pids = 128;
    const sbx = await sandbox({ pids });
    // Every process forks until refused, says so once, then keeps retrying (slowly: the test
    // asserts where the bomb stops, not how fast the host copes).
    const bomb = [
      'import os, sys, time',
      'said = False',
      'while True:',
      '    try:',
      '        os.fork()',
      '    except OSError as e:',
      '        if not said: print("refused", e.errno, flush=True); said = True',
      '        time.sleep(0.05)',
    ].join('\n');
    await sbx.files.write('/tmp/bomb.py', bomb);
    const handle = await sbx.commands.run(['python3', '/tmp/bomb.py'], { background: true, timeoutMs: 120_000 });
    let out = '';
    for await (const event of handle.events(0)) {
      if (event.type === 'stdout') out += Buffer.from(event.bytes).toString();
      if (/refused 11/.test(out) || event.type === 'exit') break;
    }
    assert.match(out, /refused 11/, 'forks are refused with EAGAIN');
    const limits = (await sbx.commands.run(['grep', 'Max processes', '/proc/self/limits'])).stdout;
    assert.match(limits, new RegExp(`Max processes\\s+${nprocLimit(pids)}\\s+${nprocLimit(pids)}\\s`));
    // The rlimit refused them (checked before the parent's memory map is copied); the pids
    // cap, checked after that copy, never had to.
    assert.match(await cgroupFile('pids', sbx.id, 'pids.events'), /^max 0$/m);
    assert.ok(Number(await cgroupFile('pids', sbx.id, 'pids.current')) < pids);
    // The agent (root) still has room to fork a command while the bomb holds.
    const r = await sbx.commands.run(['echo', 'ok'], { user: 'root', timeoutMs: 60_000 });
    assert.equal(r.stdout, 'ok\n');
    await sbx.kill();
  });
});
