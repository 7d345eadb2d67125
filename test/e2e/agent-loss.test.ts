// A sandbox whose agent dies keeps the user's files (it becomes hibernated with its disk, and a
// resume starts it again), and a sandbox at its memory limit loses a command, not its agent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useTestServer, waitFor } from '../support/server.js';

const { sandbox } = useTestServer({ metadata: { suite: 'agent-loss' } });

/** The agent's exact command line (pgrep -x: the shell running pgrep does not match). */
const AGENT =
  "pgrep -xf '/opt/paddock/lib/ld-linux-x86-64.so.2 --library-path /opt/paddock/lib /opt/paddock/bin/node /opt/paddock/agent.js'";

describe('a sandbox whose agent dies', () => {
  for (const isolation of ['container', 'gvisor'] as const) {
    it(`${isolation}: keeps its files as a hibernated sandbox that a resume starts again`, async () => {
      const sbx = await sandbox({ isolation });
      await sbx.files.write('/home/user/work.txt', 'unsaved work');
      // The agent's own process, killed from inside (as an OOM kill or a crash would).
      await sbx.commands.run(`kill -9 $(${AGENT})`, { user: 'root', timeoutMs: 10_000 }).catch(() => undefined);
      const info = await waitFor('the loss to be noticed', async () => {
        await sbx.commands.run('true').catch(() => undefined);
        const i = await sbx.getInfo();
        return i.state === 'running' ? undefined : i;
      });
      assert.deepEqual([info.state, info.reasonCode], ['hibernated', 'agent_lost']);
      assert.match(info.reason ?? '', /its disk is kept: resume it/);
      await sbx.resume();
      assert.equal(await sbx.files.read('/home/user/work.txt'), 'unsaved work');
      assert.equal((await sbx.commands.run('echo back')).stdout, 'back\n');
    });
  }
});

describe('a crun sandbox at its memory limit', () => {
  it('loses the commands that used the memory, never its agent', async () => {
    const sbx = await sandbox({ isolation: 'container', memoryMiB: 128 });
    // Many processes each smaller than the agent (~40 MiB): with equal OOM scores the kernel
    // would pick the agent, the largest. Each child reports 137 when the OOM killer took it.
    const script = [
      'pids=""',
      'for i in $(seq 16); do python3 -c "import time; x = bytearray(12 << 20); time.sleep(10)" & pids="$pids $!"; done',
      'k=0; for p in $pids; do wait $p; [ $? -eq 137 ] && k=$((k+1)); done; echo "killed=$k"',
    ].join('\n');
    const r = await sbx.commands.run(script, { timeoutMs: 120_000 });
    const killed = Number(/killed=(\d+)/.exec(r.stdout)?.[1] ?? '0');
    assert.ok(killed >= 1, `the OOM killer should have taken some of the processes: ${r.stdout}${r.stderr}`);
    assert.equal((await sbx.getInfo()).state, 'running');
    assert.equal((await sbx.commands.run('echo agent alive')).stdout, 'agent alive\n');
    const scores = await sbx.commands.run(`cat /proc/$(${AGENT})/oom_score_adj /proc/self/oom_score_adj`, {
      user: 'root',
    });
    assert.deepEqual(scores.stdout.trim().split('\n'), ['300', '900'], 'agent below its commands');
  });
});
