import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { RunningServer } from '@paddock/server';
// The real, unmodified SDK, pinned in the root package.json: e2b 2.51.0. It is configured
// only by the E2B_* environment variables set in before(); nothing in the calls names Paddock.
import { CommandExitError, FileNotFoundError, Sandbox, SandboxNotFoundError, type SandboxOpts } from 'e2b';
import { startTestServer } from '../support/server.js';

const PINNED = { e2b: '2.51.0' } as const;
const API_KEY = `e2b_${randomBytes(20).toString('hex')}`;

let server: RunningServer;
const created: Sandbox[] = [];

/** Creates a sandbox through the SDK and remembers it for after(). */
async function create(opts: SandboxOpts = {}): Promise<Sandbox> {
  const sbx = await Sandbox.create({ timeoutMs: 300_000, ...opts });
  created.push(sbx);
  return sbx;
}

before(async () => {
  ({ server } = await startTestServer({ apiKey: API_KEY }));
  const port = new URL(server.url).port;
  process.env.E2B_API_URL = server.url;
  process.env.E2B_SANDBOX_URL = server.url;
  process.env.E2B_DOMAIN = `localhost:${port}`;
  process.env.E2B_API_KEY = API_KEY;
});

after(async () => {
  for (const sbx of created) await sbx.kill().catch(() => undefined);
  await server?.close();
});

describe(`E2B SDK ${PINNED.e2b}: conformance sequence (docs/e2b-protocol.md §5)`, () => {
  let sbx: Sandbox;

  it('creates a sandbox with metadata, envs and a timeout', { timeout: 60_000 }, async () => {
    sbx = await create({ metadata: { suite: 'e2b-conformance' }, envs: { FOO: 'bar' } });
    assert.match(sbx.sandboxId, /^[a-z0-9]+$/);
    assert.equal(sbx.sandboxDomain, `localhost:${new URL(server.url).port}`);
  });

  it('runs a command, and a failing one throws CommandExitError', { timeout: 60_000 }, async () => {
    const result = await sbx.commands.run('echo hi');
    assert.deepEqual(
      { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr },
      {
        exitCode: 0,
        stdout: 'hi\n',
        stderr: '',
      },
    );
    const env = await sbx.commands.run('echo $FOO');
    assert.equal(env.stdout, 'bar\n');
    await assert.rejects(sbx.commands.run('exit 3'), (err: unknown) => {
      assert.ok(err instanceof CommandExitError);
      assert.equal(err.exitCode, 3);
      return true;
    });
  });

  it('writes, reads and lists files; a missing file is FileNotFoundError', { timeout: 60_000 }, async () => {
    const info = await sbx.files.write('/home/user/a.txt', 'hello world');
    assert.equal(info.path, '/home/user/a.txt');
    assert.equal(await sbx.files.read('/home/user/a.txt'), 'hello world');
    await assert.rejects(sbx.files.read('/home/user/nope.txt'), FileNotFoundError);
    const entries = await sbx.files.list('/home/user');
    const a = entries.find((e) => e.name === 'a.txt');
    assert.equal(a?.type, 'file');
    assert.equal(a?.size, 11);
    assert.ok(a?.modifiedTime instanceof Date);
    assert.equal(await sbx.files.exists('/nope'), false);
    assert.equal(await sbx.files.exists('/home/user/a.txt'), true);
    assert.equal(await sbx.files.makeDir('/home/user/d'), true);
    assert.equal(await sbx.files.makeDir('/home/user/d'), false);
  });

  it('runs a background command whose output arrives later; list and kill', { timeout: 60_000 }, async () => {
    let out = '';
    const handle = await sbx.commands.run('sleep 1; echo bg', {
      background: true,
      onStdout: (d) => {
        out += d;
      },
    });
    assert.ok(handle.pid > 0);
    const listed = await sbx.commands.list();
    assert.ok(listed.some((p) => p.pid === handle.pid));
    const result = await handle.wait();
    assert.equal(result.exitCode, 0);
    assert.equal(out, 'bg\n');
    const sleeper = await sbx.commands.run('sleep 600', { background: true });
    assert.equal(await sbx.commands.kill(sleeper.pid), true);
    await assert.rejects(sleeper.wait(), CommandExitError);
    assert.equal(await sbx.commands.kill(sleeper.pid), false);
  });

  it('is running, has info, a settable timeout and metrics', { timeout: 60_000 }, async () => {
    assert.equal(await sbx.isRunning(), true);
    const info = await sbx.getInfo();
    assert.equal(info.sandboxId, sbx.sandboxId);
    assert.equal(info.state, 'running');
    assert.deepEqual(info.metadata, { suite: 'e2b-conformance' });
    await sbx.setTimeout(120_000);
    const after = await sbx.getInfo();
    assert.ok(Math.abs(after.endAt.getTime() - Date.now() - 120_000) < 10_000);
    const metrics = await sbx.getMetrics();
    assert.ok(metrics.length >= 1);
    assert.ok((metrics[0]?.memUsed ?? 0) > 0);
    assert.ok((metrics[0]?.diskTotal ?? 0) > 0);
  });

  it('pauses (twice → false) and resumes on connect with its processes', { timeout: 120_000 }, async () => {
    const sleeper = await sbx.commands.run('sleep 600', { background: true });
    assert.equal(await sbx.pause(), true);
    assert.equal(await sbx.pause(), false);
    assert.equal((await sbx.getInfo()).state, 'paused');
    assert.equal(await sbx.isRunning(), false);
    const again = await Sandbox.connect(sbx.sandboxId);
    assert.equal((await again.getInfo()).state, 'running');
    assert.ok((await again.commands.list()).some((p) => p.pid === sleeper.pid));
    assert.equal((await again.commands.run('echo back')).stdout, 'back\n');
    await again.commands.kill(sleeper.pid);
  });

  it('lists sandboxes (running and paused) and filters by metadata', { timeout: 60_000 }, async () => {
    const paginator = Sandbox.list({ query: { metadata: { suite: 'e2b-conformance' } } });
    const items = await paginator.nextItems();
    assert.deepEqual(
      items.map((s) => s.sandboxId),
      [sbx.sandboxId],
    );
    assert.equal(paginator.hasNext, false);
  });

  it('gives getHost as <port>-<id>.<domain>', () => {
    assert.equal(sbx.getHost(3000), `3000-${sbx.sandboxId}.localhost:${new URL(server.url).port}`);
  });

  it('kills (twice → false), after which envd answers 502 and connect is SandboxNotFoundError', {
    timeout: 60_000,
  }, async () => {
    assert.equal(await sbx.kill(), true);
    assert.equal(await sbx.kill(), false);
    assert.equal(await sbx.isRunning(), false);
    await assert.rejects(Sandbox.connect(sbx.sandboxId), SandboxNotFoundError);
    await assert.rejects(Sandbox.getInfo('nosuchsandbox'), SandboxNotFoundError);
  });
});
