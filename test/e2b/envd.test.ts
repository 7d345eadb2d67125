import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { RunningServer } from '@paddock/server';
// The real, unmodified SDK, pinned in the root package.json: e2b 2.51.0, configured only by
// the E2B_* environment variables set in before().
import { CommandExitError, type FilesystemEvent, NotFoundError, Sandbox } from 'e2b';
import { startTestServer, waitFor } from '../support/server.js';

const PINNED = { e2b: '2.51.0' } as const;
const API_KEY = `e2b_${randomBytes(20).toString('hex')}`;

let server: RunningServer;
let sbx: Sandbox;

before(async () => {
  ({ server } = await startTestServer({ apiKey: API_KEY }));
  process.env.E2B_API_URL = server.url;
  process.env.E2B_SANDBOX_URL = server.url;
  process.env.E2B_DOMAIN = `localhost:${new URL(server.url).port}`;
  process.env.E2B_API_KEY = API_KEY;
  sbx = await Sandbox.create({ timeoutMs: 600_000, envs: { SANDBOX_LEVEL: 'yes' } });
});

after(async () => {
  await sbx?.kill().catch(() => undefined);
  await server?.close();
});

describe(`E2B SDK ${PINNED.e2b}: commands (process.Process)`, () => {
  it('applies per-call envs over the sandbox envs, cwd (relative too) and user', { timeout: 60_000 }, async () => {
    const env = await sbx.commands.run('echo $SANDBOX_LEVEL $CALL_LEVEL', { envs: { CALL_LEVEL: 'call' } });
    assert.equal(env.stdout, 'yes call\n');
    assert.equal((await sbx.commands.run('pwd')).stdout, '/home/user\n');
    assert.equal((await sbx.commands.run('pwd', { cwd: '/tmp' })).stdout, '/tmp\n');
    await sbx.files.makeDir('/home/user/sub');
    assert.equal((await sbx.commands.run('pwd', { cwd: 'sub' })).stdout, '/home/user/sub\n');
    assert.equal((await sbx.commands.run('whoami')).stdout, 'user\n');
    assert.equal((await sbx.commands.run('whoami', { user: 'root' })).stdout, 'root\n');
  });

  it('reports stderr and exit codes', { timeout: 60_000 }, async () => {
    const result = await sbx.commands.run('echo out; echo err >&2; exit 0');
    assert.equal(result.stdout, 'out\n');
    assert.equal(result.stderr, 'err\n');
    const err = await sbx.commands.run('echo partial; exit 42').catch((e: unknown) => e);
    assert.ok(err instanceof CommandExitError);
    assert.equal(err.exitCode, 42);
    assert.equal(err.stdout, 'partial\n');
    assert.equal(err.error, 'exit status 42');
  });

  it('feeds stdin to a background command and closes it', { timeout: 60_000 }, async () => {
    const handle = await sbx.commands.run('cat', { background: true, stdin: true });
    await sbx.commands.sendStdin(handle.pid, 'line one\n');
    await handle.sendStdin('line two\n');
    await sbx.commands.closeStdin(handle.pid);
    const result = await handle.wait();
    assert.equal(result.stdout, 'line one\nline two\n');
  });

  it('gives a command /dev/null as stdin by default', { timeout: 60_000 }, async () => {
    assert.equal((await sbx.commands.run('cat; echo done')).stdout, 'done\n');
  });

  it('reattaches to a background command after disconnecting (commands.connect)', { timeout: 60_000 }, async () => {
    await sbx.files.remove('/tmp/go').catch(() => undefined);
    const handle = await sbx.commands.run('while [ ! -e /tmp/go ]; do sleep 0.05; done; echo after-reattach', {
      background: true,
    });
    await handle.disconnect();
    assert.ok(
      (await sbx.commands.list()).some((p) => p.pid === handle.pid),
      'still running after disconnect',
    );
    let seen = '';
    const again = await sbx.commands.connect(handle.pid, {
      onStdout: (d) => {
        seen += d;
      },
    });
    assert.equal(again.pid, handle.pid);
    await sbx.files.write('/tmp/go', '');
    const result = await again.wait();
    assert.equal(result.exitCode, 0);
    assert.equal(seen, 'after-reattach\n');
    await assert.rejects(sbx.commands.connect(999_999), NotFoundError);
  });

  it('lists running commands with their config, and kill → true then false', { timeout: 60_000 }, async () => {
    const handle = await sbx.commands.run('sleep 600', { background: true, cwd: '/tmp', envs: { K: 'v' } });
    const listed = (await sbx.commands.list()).find((p) => p.pid === handle.pid);
    assert.equal(listed?.cmd, '/bin/bash');
    assert.deepEqual(listed?.args.slice(-1), ['sleep 600']);
    assert.equal(listed?.cwd, '/tmp');
    assert.equal(listed?.envs.K, 'v');
    assert.equal(await handle.kill(), true);
    const err = await handle.wait().catch((e: unknown) => e);
    assert.ok(err instanceof CommandExitError);
    assert.equal(err.exitCode, -1);
    assert.equal(await sbx.commands.kill(handle.pid), false);
  });
});

describe(`E2B SDK ${PINNED.e2b}: PTY`, () => {
  it('creates a terminal, sends input, resizes and kills it', { timeout: 60_000 }, async () => {
    let screen = '';
    const decoder = new TextDecoder();
    const pty = await sbx.pty.create({
      cols: 80,
      rows: 24,
      onData: (d) => {
        screen += decoder.decode(d);
      },
    });
    assert.ok(pty.pid > 0);
    await sbx.pty.sendInput(pty.pid, new TextEncoder().encode('echo pty-$((6*7))\n'));
    await waitFor('pty output', async () => (screen.includes('pty-42') ? true : undefined));
    await sbx.pty.resize(pty.pid, { cols: 120, rows: 40 });
    await sbx.pty.sendInput(pty.pid, new TextEncoder().encode('stty size\n'));
    await waitFor('resized', async () => (screen.includes('40 120') ? true : undefined));
    assert.ok((await sbx.commands.list()).some((p) => p.pid === pty.pid));
    assert.equal(await sbx.pty.kill(pty.pid), true);
    await assert.rejects(pty.wait(), CommandExitError);
  });
});

describe(`E2B SDK ${PINNED.e2b}: files (filesystem.Filesystem and /files)`, () => {
  it('writes and reads binary data, and several files in one call', { timeout: 60_000 }, async () => {
    const bytes = new Uint8Array(256).map((_, i) => i);
    await sbx.files.write('/home/user/bin.dat', bytes.buffer);
    assert.deepEqual(await sbx.files.read('/home/user/bin.dat', { format: 'bytes' }), bytes);
    const infos = await sbx.files.write([
      { path: '/home/user/multi/one.txt', data: 'one' },
      { path: 'multi/two.txt', data: 'two' },
    ]);
    assert.deepEqual(
      infos.map((i) => i.path),
      ['/home/user/multi/one.txt', '/home/user/multi/two.txt'],
    );
    assert.equal(await sbx.files.read('multi/two.txt'), 'two');
    await sbx.files.write('/home/user/gz.txt', 'compressed upload', { gzip: true });
    assert.equal(await sbx.files.read('/home/user/gz.txt'), 'compressed upload');
    await sbx.files.write('/home/user/empty.txt', '');
    assert.equal(await sbx.files.read('/home/user/empty.txt'), '');
  });

  it('lists with depth, renames, removes and stats', { timeout: 60_000 }, async () => {
    await sbx.files.write('/home/user/tree/a/b.txt', 'b');
    const shallow = await sbx.files.list('/home/user/tree');
    assert.deepEqual(
      shallow.map((e) => [e.name, e.type]),
      [['a', 'dir']],
    );
    const deep = await sbx.files.list('/home/user/tree', { depth: 2 });
    assert.deepEqual(deep.map((e) => e.path).sort(), ['/home/user/tree/a', '/home/user/tree/a/b.txt']);
    const moved = await sbx.files.rename('/home/user/tree/a/b.txt', '/home/user/tree/c.txt');
    assert.equal(moved.path, '/home/user/tree/c.txt');
    const info = await sbx.files.getInfo('/home/user/tree/c.txt');
    assert.equal(info.type, 'file');
    assert.equal(info.size, 1);
    assert.equal(info.owner, 'user');
    assert.match(info.permissions, /^-rw/);
    await sbx.files.remove('/home/user/tree');
    assert.equal(await sbx.files.exists('/home/user/tree'), false);
  });

  it('watches a directory', { timeout: 60_000 }, async () => {
    await sbx.files.makeDir('/home/user/watched');
    const events: FilesystemEvent[] = [];
    const watch = await sbx.files.watchDir('/home/user/watched', (e) => {
      events.push(e);
    });
    try {
      await sbx.files.write('/home/user/watched/new.txt', 'x');
      await waitFor('create event', async () => (events.some((e) => e.name === 'new.txt') ? true : undefined));
    } finally {
      await watch.stop();
    }
  });

  it('serves signed upload and download URLs on the shared origin', { timeout: 60_000 }, async () => {
    const uploadUrl = await sbx.uploadUrl('/home/user/signed.txt');
    assert.ok(new URL(uploadUrl).searchParams.get('signature')?.startsWith('v1_'));
    const form = new FormData();
    form.append('file', new Blob(['via signed url']), 'signed.txt');
    const up = await fetch(uploadUrl, { method: 'POST', body: form });
    assert.equal(up.status, 200);
    const downloadUrl = await sbx.downloadUrl('/home/user/signed.txt', { useSignatureExpiration: 60 });
    const down = await fetch(downloadUrl);
    assert.equal(down.status, 200);
    assert.equal(await down.text(), 'via signed url');
    const tampered = new URL(downloadUrl);
    tampered.searchParams.set('path', '/etc/passwd');
    assert.equal((await fetch(tampered)).status, 401);
    const expired = await sbx.downloadUrl('/home/user/signed.txt', { useSignatureExpiration: -10 });
    assert.equal((await fetch(expired)).status, 401);
    // A signed URL writes its own path only: extra parts cannot name other files.
    const sneaky = new FormData();
    sneaky.append('file', new Blob(['a']), '/home/user/signed.txt');
    sneaky.append('file', new Blob(['b']), '/home/user/.bashrc');
    assert.equal((await fetch(uploadUrl, { method: 'POST', body: sneaky })).status, 403);
    assert.equal(await sbx.files.read('/home/user/signed.txt'), 'via signed url');
  });
});
