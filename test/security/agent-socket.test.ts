// Threat table: the host never follows a path a sandbox can change. The agent's socket sits in
// `/run/paddock`, a host dir bound read-write into the sandbox and owned by the sandbox's root,
// so whatever the host does there must hold against user code that replaces its entries.
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConflictError, PermissionDeniedError, type Sandbox } from '@paddock/sdk';
import { createMarkerFile } from '../../packages/server/src/runtime/sandbox-writable.js';
import { TEST_DATA_DIR, TEST_ROOT } from '../support/env.js';
import { useTestServer, waitFor } from '../support/server.js';

const fixture = useTestServer({ metadata: { suite: 'security-agent-socket' } });

const hostSocketOf = (id: string) => join(TEST_DATA_DIR, 'sandboxes', id, 'run', 'agent.sock');

async function sandbox(isolation: 'container' | 'gvisor', name: string): Promise<Sandbox> {
  const sbx = await fixture.sandbox({ isolation });
  await sbx.files.write('/tmp/who', name);
  return sbx;
}

/** Whether 12 calls at once (so new host connections too) all answer `expected`. */
async function allAnswer(sbx: Sandbox, expected: string): Promise<true | undefined> {
  const answers = await whoAnswers(sbx, 12);
  return answers.length === 12 && answers.every((a) => a === expected) ? true : undefined;
}

/** Reads `/tmp/who` over many new host connections at once; an unreachable agent counts as no answer. */
async function whoAnswers(sbx: Sandbox, count: number): Promise<string[]> {
  const reads = await Promise.allSettled(Array.from({ length: count }, () => sbx.files.read('/tmp/who')));
  return reads.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
}

for (const isolation of ['container', 'gvisor'] as const) {
  describe(`agent socket (${isolation})`, () => {
    test('a sandbox cannot redirect host calls into another sandbox by replacing its agent socket with a symlink', async () => {
      const [a, b] = await Promise.all([sandbox(isolation, 'A'), sandbox(isolation, 'B')]);
      // As the attacker, in a bounded loop so that the link is there whenever the host
      // looks: the agent's socket replaced by a link to B's (its host path is in A's mountinfo).
      const link = hostSocketOf(b.id);
      await a.commands.run(
        `nohup sh -c 'end=$(($(date +%s)+6)); while [ $(date +%s) -lt $end ]; do [ -L /run/paddock/agent.sock ] || { rm -f /run/paddock/agent.sock; ln -s ${link} /run/paddock/agent.sock; }; sleep 0.02; done' >/dev/null 2>&1 &`,
        { user: 'root' },
      );
      await waitFor('the planted link, seen from the host', async () =>
        (await lstat(hostSocketOf(a.id)).catch(() => undefined))?.isSymbolicLink() ? true : undefined,
      );
      // Many calls at once force new host connections, the ones that resolve the path again.
      const answers = [...(await whoAnswers(a, 12)), ...(await whoAnswers(a, 12))];
      assert.ok(!answers.includes('B'), `calls for A were answered by B: ${JSON.stringify(answers)}`);
      const writes = await Promise.allSettled(Array.from({ length: 8 }, () => a.files.write('/tmp/pwned', 'x')));
      assert.ok(writes.length === 8);
      await assert.rejects(b.files.read('/tmp/pwned'), /not found|no such/i, 'a write for A landed in B');
      // Once the loop ends, the agent notices its socket was replaced and listens anew: A is
      // reachable again, as A.
      // (12 calls at once: new connections, not only kept-alive ones to the old listener.)
      await waitFor('A to answer again on new connections', () => allAnswer(a, 'A'), 20_000);
      assert.equal(await b.files.read('/tmp/who'), 'B');
    });

    test('a sandbox whose root deletes the agent socket stays reachable', async () => {
      const sbx = await sandbox(isolation, 'C');
      await sbx.commands.run('rm -f /run/paddock/agent.sock', { user: 'root' });
      await waitFor('the agent to listen again', () => allAnswer(sbx, 'C'), 10_000);
      assert.equal((await sbx.commands.run('echo ok')).stdout, 'ok\n');
    });

    test("the files API refuses to write, rename or remove the agent's own files", async () => {
      const sbx = await sandbox(isolation, 'D');
      await assert.rejects(sbx.files.write('/run/paddock/agent.sock', 'x'), PermissionDeniedError);
      await assert.rejects(sbx.files.write('/run/paddock/config.json', '{}'), PermissionDeniedError);
      await assert.rejects(sbx.files.rename('/run/paddock/agent.sock', '/tmp/sock'), PermissionDeniedError);
      await assert.rejects(sbx.files.rename('/tmp/who', '/run/paddock/agent.sock'), PermissionDeniedError);
      await assert.rejects(sbx.files.remove('/run/paddock'), PermissionDeniedError);
      // A directory that holds it, and a link that leads into it, are the same thing.
      await assert.rejects(sbx.files.remove('/run'), PermissionDeniedError);
      await sbx.commands.run('ln -s /run/paddock /tmp/into-run');
      await assert.rejects(sbx.files.write('/tmp/into-run/agent.sock', 'x'), PermissionDeniedError);
      await assert.rejects(sbx.files.mkdir('/run/paddock/sub'), PermissionDeniedError);
      // The agent is untouched and still answers; the error names the path to change.
      const err = await sbx.files.write('/run/paddock/agent.sock', 'x').catch((e: unknown) => e);
      assert.match(String((err as Error).message), /agent's own directory/);
      assert.equal((await sbx.commands.run('echo ok')).stdout, 'ok\n');
    });
  });
}

test('a gVisor sandbox with its own socket in /run/paddock gets a typed hibernate error, no runsc internals, and lives on', async () => {
  const sbx = await sandbox('gvisor', 'E');
  await sbx.commands.run(
    `nohup python3 -c "import socket,time; s=socket.socket(socket.AF_UNIX); s.bind('/run/paddock/mine.sock'); s.listen(); time.sleep(300)" >/dev/null 2>&1 &`,
    { user: 'root' },
  );
  await waitFor('the socket to be bound', async () =>
    (await sbx.commands.run('test -S /run/paddock/mine.sock && echo yes || true', { user: 'root' })).stdout.trim() ===
    'yes'
      ? true
      : undefined,
  );
  const err = await sbx.hibernate().then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConflictError, `hibernate: ${String(err)}`);
  assert.match(err.message, /\/run\/paddock\/mine\.sock/);
  assert.doesNotMatch(err.message, /gvisor\.dev|goroutine|\.go:\d+/);
  assert.equal((await sbx.getInfo()).state, 'running');
  assert.equal(await sbx.files.read('/tmp/who'), 'E');
});

test('the host creates the wake file without following a link the sandbox planted there', async () => {
  const dir = await mkdtemp(join(TEST_ROOT, 'wake-'));
  try {
    const canary = join(dir, 'host-file');
    await writeFile(canary, 'host data');
    await symlink(canary, join(dir, 'wake'));
    await createMarkerFile(join(dir, 'wake'));
    assert.equal(await readFile(canary, 'utf8'), 'host data');
    assert.ok((await lstat(join(dir, 'wake'))).isFile());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
