import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  AuthenticationError,
  CommandExitError,
  DiskFullError,
  InvalidArgumentError,
  IsADirectoryError,
  NotFoundError,
  Sandbox,
  SandboxNotRunningError,
  TimeoutError,
} from '@paddock/sdk';
import { TEST_ROOT } from '../support/env.js';
import { useTestServer, waitFor } from '../support/server.js';

const fixture = useTestServer(
  {},
  {
    // Whatever is still live on this server (a kill that failed, a create whose answer was
    // lost) is this suite's: the next server would otherwise keep it.
    beforeClose: async (conn) => {
      for (const s of await Sandbox.list(conn)) await Sandbox.kill(s.id, conn);
    },
  },
);
const { sandbox } = fixture;

describe('sandbox lifecycle through the TypeScript SDK', () => {
  it('creates with options, runs a command, sees its env and metadata, lists, connects, extends, kills', async () => {
    const sbx = await sandbox({
      template: 'base',
      timeoutMs: 300_000,
      memoryMiB: 512,
      cpus: 1,
      diskMiB: 2048,
      isolation: 'container',
      env: { FOO: 'bar' },
      metadata: { agent: 'a1', suite: 'sdk' },
    });
    assert.match(sbx.id, /^[a-z0-9]{20}$/);
    const r = await sbx.commands.run('python3 -c "print(6*7)"');
    assert.deepEqual(r, { exitCode: 0, stdout: '42\n', stderr: '' });
    assert.equal((await sbx.commands.run('echo $FOO')).stdout, 'bar\n');
    assert.equal((await sbx.commands.run(['id', '-un'])).stdout, 'user\n', 'commands run as the non-root user');
    assert.equal((await sbx.commands.run('pwd')).stdout, '/home/user\n');

    const info = await sbx.getInfo();
    assert.equal(info.state, 'running');
    assert.deepEqual(info.metadata, { agent: 'a1', suite: 'sdk' });
    assert.equal(info.memoryMiB, 512);

    const listed = await Sandbox.list({ ...fixture.conn, metadata: { agent: 'a1' } });
    assert.deepEqual(
      listed.map((s) => s.id),
      [sbx.id],
    );
    assert.equal((await Sandbox.list({ ...fixture.conn, metadata: { agent: 'nobody' } })).length, 0);

    const again = await Sandbox.connect(sbx.id, fixture.conn);
    assert.equal((await again.commands.run('echo again')).stdout, 'again\n');
    const before = Date.parse(info.expiresAt);
    const extended = await again.setTimeout(600_000);
    assert.ok(Date.parse(extended.expiresAt) > before, 'setTimeout moves the expiry');

    await sbx.kill();
    assert.equal((await sbx.getInfo()).state, 'killed');
    await assert.rejects(sbx.commands.run('true'), SandboxNotRunningError);
    await sbx.kill(); // killing twice is fine
    assert.equal(await Sandbox.kill('aaaaaaaaaaaaaaaaaaaa', fixture.conn), false);
  });

  it('streams output as it is produced, with exit codes, stdin, cwd, user and timeouts', async () => {
    const sbx = await sandbox();
    const chunks: string[] = [];
    let sawOutputBeforeExit = false;
    for await (const ev of sbx.commands.stream('for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.05; done')) {
      if (ev.type === 'stdout') chunks.push(ev.data);
      if (ev.type === 'exit') {
        sawOutputBeforeExit = chunks.length > 0;
        assert.equal(ev.exitCode, 0);
      }
    }
    assert.ok(sawOutputBeforeExit);
    assert.equal(chunks.join(''), 'out1\nout2\nout3\n');

    const seen: string[] = [];
    const r = await sbx.commands.run('echo a; echo b >&2', {
      onStdout: (d) => seen.push(`o:${d}`),
      onStderr: (d) => seen.push(`e:${d}`),
    });
    assert.equal(r.stdout, 'a\n');
    assert.equal(r.stderr, 'b\n');
    assert.ok(seen.includes('o:a\n') && seen.includes('e:b\n'));

    const failed = await sbx.commands.run('exit 3', { throwOnError: false });
    assert.equal(failed.exitCode, 3);
    await assert.rejects(sbx.commands.run('echo oops >&2; exit 4'), (err: unknown) => {
      assert.ok(err instanceof CommandExitError);
      assert.equal(err.exitCode, 4);
      assert.equal(err.stderr, 'oops\n');
      return true;
    });
    assert.equal((await sbx.commands.run(['cat'], { stdin: 'piped in' })).stdout, 'piped in');
    assert.equal((await sbx.commands.run('pwd', { cwd: '/tmp' })).stdout, '/tmp\n');
    assert.equal((await sbx.commands.run('id -u', { user: 'root' })).stdout, '0\n');
    assert.equal((await sbx.commands.run('echo $X', { env: { X: 'y' } })).stdout, 'y\n');
    await assert.rejects(sbx.commands.run('sleep 30', { timeoutMs: 300 }), TimeoutError);
    assert.equal((await sbx.commands.run('echo still usable')).stdout, 'still usable\n');
    const missing = await sbx.commands.run(['no-such-program'], { throwOnError: false });
    assert.equal(missing.exitCode, 127);
  });

  it('does file operations inside the sandbox', async () => {
    const sbx = await sandbox();
    const written = await sbx.files.write('/home/user/a.txt', 'hi');
    assert.equal(written.sizeBytes, 2);
    assert.equal(written.owner, 'user');
    assert.equal(await sbx.files.read('/home/user/a.txt'), 'hi');
    assert.equal((await sbx.commands.run('cat /home/user/a.txt')).stdout, 'hi');
    const bytes = new Uint8Array([0, 1, 2, 255]);
    await sbx.files.write('/home/user/deep/er/b.bin', bytes);
    assert.deepEqual(await sbx.files.read('/home/user/deep/er/b.bin', { format: 'bytes' }), bytes);
    const names = (await sbx.files.list('/home/user')).map((e) => e.name);
    assert.ok(names.includes('a.txt') && names.includes('deep'));
    assert.equal((await sbx.files.stat('/home/user/deep')).type, 'dir');
    await sbx.files.mkdir('/home/user/new/dir');
    assert.equal((await sbx.files.stat('/home/user/new/dir')).type, 'dir');
    await sbx.files.rename('/home/user/a.txt', '/home/user/new/c.txt');
    assert.equal(await sbx.files.exists('/home/user/a.txt'), false);
    assert.equal(await sbx.files.read('/home/user/new/c.txt'), 'hi');
    await sbx.files.remove('/home/user/new');
    assert.equal(await sbx.files.exists('/home/user/new/c.txt'), false);
    assert.equal(await sbx.files.exists('/home/user/deep/er/b.bin'), true);
  });

  it('cannot reach host files through symlinks planted by sandbox code', async () => {
    const secret = join(TEST_ROOT, `host-secret-${process.pid}.txt`);
    await writeFile(secret, 'host-only-secret');
    try {
      const sbx = await sandbox();
      await sbx.commands.run(
        `ln -s / /home/user/root && ln -s /etc/shadow /home/user/shadow && ln -s ${secret} /home/user/direct`,
      );
      await assert.rejects(sbx.files.read(`/home/user/root${secret}`), NotFoundError);
      await assert.rejects(sbx.files.read('/home/user/direct'), NotFoundError);
      // /etc/shadow through the link is the sandbox's own (readable by its root), never the host's.
      const shadow = await sbx.files.read('/home/user/shadow', { user: 'root' });
      assert.match(shadow, /^user:/m);
      await sbx.files.write(`/home/user/root${secret}`, 'overwritten?', { user: 'root' });
      const { readFile } = await import('node:fs/promises');
      assert.equal(await readFile(secret, 'utf8'), 'host-only-secret');
      // The write landed in the sandbox's own /var/tmp (created there), never on the host.
      assert.equal(await sbx.files.read(`/home/user/root${secret}`), 'overwritten?');
      const inside = await sbx.commands.run(`cat ${secret}`, { user: 'root' });
      assert.equal(inside.stdout, 'overwritten?');
      assert.equal((await sbx.files.stat('/home/user/root')).type, 'symlink');
    } finally {
      await rm(secret, { force: true });
    }
  });

  it('streams a 1 GiB file both ways with bounded memory', async () => {
    const sbx = await sandbox({ diskMiB: 1536 });
    const sizeBytes = 1024 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) & 0xff;
    const sent = createHash('sha256');
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < sizeBytes / chunk.length; i++) {
          chunk.writeUInt32LE(i, 0);
          sent.update(chunk);
          peakRss = Math.max(peakRss, process.memoryUsage().rss);
          yield Buffer.from(chunk);
        }
      })(),
    );
    const info = await sbx.files.write('/home/user/big.bin', source);
    assert.equal(info.sizeBytes, sizeBytes);
    const received = createHash('sha256');
    let receivedBytes = 0;
    for await (const part of await sbx.files.read('/home/user/big.bin', { format: 'stream' })) {
      received.update(part as Buffer);
      receivedBytes += (part as Buffer).length;
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
    assert.equal(receivedBytes, sizeBytes);
    assert.equal(received.digest('hex'), sent.digest('hex'));
    const growthMiB = (peakRss - rssBefore) / 1_048_576;
    assert.ok(growthMiB < 256, `client+server RSS grew by ${growthMiB.toFixed(0)} MiB moving 1 GiB`);
  });

  it('expires at its timeout and frees the sandbox', async () => {
    const sbx = await sandbox({ timeoutMs: 1_000 });
    const state = await waitFor('the sandbox to be killed by its timeout', async () => {
      const s = (await sbx.getInfo()).state;
      return s === 'killed' ? s : undefined;
    });
    assert.equal(state, 'killed');
    assert.equal((await sbx.getInfo()).reason, 'timeout expired');
  });

  it('runs sandboxes on gVisor too', async () => {
    const sbx = await sandbox({ isolation: 'gvisor' });
    assert.equal((await sbx.getInfo()).isolation, 'gvisor');
    assert.equal((await sbx.commands.run('python3 -c "print(6*7)"')).stdout, '42\n');
    await sbx.files.write('/home/user/g.txt', 'gvisor file');
    assert.equal(await sbx.files.read('/home/user/g.txt'), 'gvisor file');
    // gVisor's own kernel reports itself as 4.4.0, whatever the host runs.
    assert.equal((await sbx.commands.run('uname -r')).stdout, '4.4.0\n');
  });
});

describe('bad input gets typed errors that name the field', () => {
  it('rejects bad create options', async () => {
    await assert.rejects(Sandbox.create({ ...fixture.conn, template: 'no-such-template' }), (err: unknown) => {
      assert.ok(err instanceof NotFoundError);
      assert.match(err.message, /template/);
      return true;
    });
    for (const [field, value] of [
      ['memoryMiB', 0],
      ['memoryMiB', -5],
      ['memoryMiB', 10_000_000],
      ['cpus', 0],
      ['cpus', 1000],
      ['timeoutMs', 0],
      ['timeoutMs', 10 ** 12],
      ['diskMiB', 1],
    ] as const) {
      await assert.rejects(Sandbox.create({ ...fixture.conn, [field]: value }), (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError, `${field}=${value} → ${String(err)}`);
        assert.match(err.message, new RegExp(field));
        return true;
      });
    }
    await assert.rejects(Sandbox.create({ ...fixture.conn, isolation: 'vm' as never }), InvalidArgumentError);
  });

  it('rejects unknown sandboxes, bad keys and bad paths', async () => {
    await assert.rejects(Sandbox.connect('zzzzzzzzzzzzzzzzzzzz', fixture.conn), NotFoundError);
    await assert.rejects(Sandbox.list({ ...fixture.conn, apiKey: 'wrong' }), AuthenticationError);
    await assert.rejects(Sandbox.list({ apiUrl: fixture.conn.apiUrl, apiKey: '' }), AuthenticationError);
    const sbx = await sandbox();
    await assert.rejects(sbx.files.read('relative/path'), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.match(err.message, /path/);
      return true;
    });
    await assert.rejects(sbx.files.write('/home/user/a\0b', 'x'), InvalidArgumentError);
    await assert.rejects(sbx.files.read('/home/user'), IsADirectoryError);
    await assert.rejects(sbx.files.read('/home/user/missing'), NotFoundError);
    await assert.rejects(sbx.files.list('/home/user/missing'), NotFoundError);
    await assert.rejects(sbx.commands.run('true', { cwd: 'relative' }), InvalidArgumentError);
    await assert.rejects(sbx.commands.run('true', { user: 'nobody-such' }), InvalidArgumentError);
  });

  it('surfaces a full disk as a typed error and keeps the sandbox and its files', async () => {
    const sbx = await sandbox({ diskMiB: 64 });
    await sbx.files.write('/home/user/keep.txt', 'kept');
    const big = Readable.from(
      (function* () {
        for (let i = 0; i < 128; i++) yield Buffer.alloc(1024 * 1024, 7);
      })(),
    );
    await assert.rejects(sbx.files.write('/home/user/too-big.bin', big), DiskFullError);
    assert.equal(await sbx.files.exists('/home/user/too-big.bin'), false, 'no partial file is left');
    assert.equal(await sbx.files.read('/home/user/keep.txt'), 'kept');
    const dd = await sbx.commands.run('dd if=/dev/zero of=/home/user/fill bs=1M count=100', { throwOnError: false });
    assert.notEqual(dd.exitCode, 0);
    assert.match(dd.stderr, /No space left/);
    await sbx.files.remove('/home/user/fill');
    assert.equal((await sbx.commands.run('echo ok')).stdout, 'ok\n');
  });
});
