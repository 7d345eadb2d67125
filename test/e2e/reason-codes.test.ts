import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SandboxNotRunningError } from '@paddock/sdk';
import { runCli } from '../support/cli.js';
import { useTestServer, waitFor } from '../support/server.js';

const label = { owner: 'reason-codes-test' };
const fixture = useTestServer({ metadata: label });
const { sandbox } = fixture;

describe('reasonCode through the SDK and the CLI', () => {
  it('a kill through the API says `api`, in getInfo, `sandbox get` and `sandbox ls`', async () => {
    const sbx = await sandbox();
    assert.equal((await sbx.getInfo()).reasonCode, undefined, 'a running sandbox has no reason');
    await sbx.kill();
    const info = await sbx.getInfo();
    assert.deepEqual([info.state, info.reasonCode, info.reason], ['killed', 'api', 'killed by the API']);
    const env = { PADDOCK_URL: fixture.conn.apiUrl, PADDOCK_API_KEY: fixture.conn.apiKey };
    const got = await runCli(['sandbox', 'get', sbx.id], { env });
    assert.match(got.stdout, /^reason\s+api \(killed by the API\)$/m);
    const ls = await runCli(['sandbox', 'ls', '--state', 'killed', '-m', `owner=${label.owner}`], { env });
    assert.match(ls.stdout, /^ID\s+STATE\s+REASON\b/m);
    assert.match(ls.stdout, new RegExp(`^${sbx.id}\\s+killed\\s+api\\s`, 'm'));
  });

  it('a sandbox killed by its timeout says `timeout`, and calls on it carry the code', async () => {
    const sbx = await sandbox({ timeoutMs: 1_000 });
    const info = await waitFor('the sandbox to be killed by its timeout', async () => {
      const i = await sbx.getInfo();
      return i.state === 'killed' ? i : undefined;
    });
    assert.deepEqual([info.reasonCode, info.reason], ['timeout', 'timeout expired']);
    await assert.rejects(
      sbx.commands.run('true'),
      (err: unknown) => err instanceof SandboxNotRunningError && err.details?.reasonCode === 'timeout',
    );
  });

  it('a gVisor sandbox killed by out of memory under a command says `oom`, in the stream and in getInfo', async (t) => {
    const sbx = await sandbox({ isolation: 'gvisor', memoryMiB: 64 });
    // `tail` keeps a line that never ends: memory grows past the cap, and gVisor dies whole.
    const err = await sbx.commands.run('head -c 400000000 /dev/zero | tail', { timeoutMs: 60_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    if ((await sbx.getInfo()).state === 'running') {
      t.skip('this gVisor ended only the runaway process: the sandbox survived, nothing stopped it');
      return;
    }
    assert.ok(err instanceof SandboxNotRunningError, `expected SANDBOX_NOT_RUNNING, got ${String(err)}`);
    assert.equal(err.details?.reasonCode, 'oom');
    const info = await sbx.getInfo();
    // Its disk is kept: hibernated, resumable.
    assert.deepEqual([info.state, info.reasonCode], ['hibernated', 'oom']);
    assert.match(info.reason ?? '', /out of memory/);
  });
});
