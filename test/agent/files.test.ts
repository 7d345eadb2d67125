import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { generated } from '../support/generated-stream.js';
import { type AgentFixture, paddockError, startAgent, waitFor } from './fixture.js';

const MiB = 1_048_576;

function vmHwmKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  return Number(line?.match(/\d+/)?.[0]);
}

describe('agent files', () => {
  let agent: AgentFixture;
  before(async () => {
    agent = await startAgent();
  });
  after(async () => {
    await agent?.stop();
  });

  it('writes and reads back a small file, creating parents', async () => {
    const path = join(agent.dir, 'a', 'b', 'hello.txt');
    const info = await agent.client.writeFile(path, Readable.from([Buffer.from('hello')]), { mode: 0o640 });
    assert.equal(info.type, 'file');
    assert.equal(info.sizeBytes, 5);
    assert.equal(info.mode, 0o640);
    assert.equal(info.owner, 'root');
    const { stream, sizeBytes } = await agent.client.readFile(path);
    assert.equal(sizeBytes, 5);
    assert.equal(Buffer.concat(await stream.toArray()).toString(), 'hello');
    assert.equal((await agent.client.stat(join(agent.dir, 'a', 'b'))).type, 'dir');
  });

  it('streams 256 MiB both ways with bounded agent memory', async (t) => {
    const sizeBytes = 256 * MiB;
    const path = join(agent.dir, 'big.bin');
    const upload = generated(sizeBytes);
    const info = await agent.client.writeFile(path, upload.stream, { sizeBytes });
    assert.equal(info.sizeBytes, sizeBytes);
    const download = await agent.client.readFile(path);
    assert.equal(download.sizeBytes, sizeBytes);
    const hash = createHash('sha256');
    for await (const chunk of download.stream) hash.update(chunk as Buffer);
    assert.equal(hash.digest('hex'), upload.digest());
    const hwmMiB = vmHwmKiB(agent.pid) / 1024;
    t.diagnostic(`agent VmHWM after 256 MiB up and down: ${hwmMiB.toFixed(0)} MiB`);
    assert.ok(hwmMiB < 160, `agent peak RSS ${hwmMiB} MiB should stay far below the file size`);
    rmSync(path);
  });

  it('leaves no file and no temp file when an upload is aborted', async () => {
    const dir = join(agent.dir, 'atomic');
    mkdirSync(dir);
    const controller = new AbortController();
    const reason = new Error('stop uploading');
    let sent = 0;
    const body = new Readable({
      read() {
        sent += 1;
        // Abort once the agent has certainly received data: the stream is pulled again.
        if (sent === 20) controller.abort(reason);
        else this.push(Buffer.alloc(64 * 1024, 1));
      },
    });
    await assert.rejects(
      agent.client.writeFile(join(dir, 'x.bin'), body, { signal: controller.signal }),
      (err) => err === reason,
    );
    await waitFor('the temp file to be removed', () => readdirSync(dir).length === 0);
    // An existing file survives an aborted overwrite untouched.
    writeFileSync(join(dir, 'keep.txt'), 'old');
    const again = new AbortController();
    const partial = new Readable({
      read() {
        this.push(Buffer.from('new'));
        again.abort(new Error('stop'));
      },
    });
    await assert.rejects(agent.client.writeFile(join(dir, 'keep.txt'), partial, { signal: again.signal }));
    await waitFor('the temp file to be removed', () => readdirSync(dir).length === 1);
    assert.equal(readFileSync(join(dir, 'keep.txt'), 'utf8'), 'old');
  });

  it('stats, lists, makes dirs, renames and removes', async () => {
    const root = join(agent.dir, 'tree');
    const made = await agent.client.mkdir({ path: join(root, 'x', 'y') });
    assert.equal(made.type, 'dir');
    await agent.client.mkdir({ path: join(root, 'x', 'y') });
    writeFileSync(join(root, 'x', 'f.txt'), 'f');
    writeFileSync(join(root, 'top.txt'), 'top');
    symlinkSync('top.txt', join(root, 'link'));
    const shallow = await agent.client.list(root);
    assert.deepEqual(
      shallow.entries.map((e) => [e.name, e.type]),
      [
        ['link', 'symlink'],
        ['top.txt', 'file'],
        ['x', 'dir'],
      ],
    );
    const deep = await agent.client.list(root, { depth: 3 });
    assert.deepEqual(
      deep.entries.map((e) => e.path.slice(root.length)),
      ['/link', '/top.txt', '/x', '/x/f.txt', '/x/y'],
    );
    const link = await agent.client.stat(join(root, 'link'));
    assert.equal(link.type, 'symlink');
    assert.equal(link.symlinkTarget, 'top.txt');
    const renamed = await agent.client.rename({ from: join(root, 'top.txt'), to: join(root, 'moved.txt') });
    assert.equal(renamed.name, 'moved.txt');
    assert.equal(renamed.sizeBytes, 3);
    await agent.client.remove({ path: join(root, 'x') });
    assert.throws(() => statSync(join(root, 'x')));
    const missing = await paddockError(() => agent.client.remove({ path: join(root, 'x') }));
    assert.equal(missing.code, 'NOT_FOUND');
  });

  it('maps fs errors to typed codes and validates paths', async () => {
    const dirRead = await paddockError(() => agent.client.readFile(agent.dir));
    assert.equal(dirRead.code, 'IS_A_DIRECTORY');
    const dirWrite = await paddockError(() => agent.client.writeFile(agent.dir, Readable.from([Buffer.from('x')])));
    assert.equal(dirWrite.code, 'IS_A_DIRECTORY');
    const missing = await paddockError(() => agent.client.stat(join(agent.dir, 'nope')));
    assert.equal(missing.code, 'NOT_FOUND');
    writeFileSync(join(agent.dir, 'plain'), '');
    const notDir = await paddockError(() => agent.client.list(join(agent.dir, 'plain')));
    assert.equal(notDir.code, 'NOT_A_DIRECTORY');
    const relative = await paddockError(() => agent.client.stat('relative/path'));
    assert.equal(relative.code, 'INVALID_ARGUMENT');
    assert.match(relative.message, /^`path`: path must be absolute/);
    const nul = await paddockError(() => agent.client.stat('/tmp/a\0b'));
    assert.equal(nul.code, 'INVALID_ARGUMENT');
    assert.equal(nul.details?.field, 'path');
    const depth = await paddockError(() => agent.client.list(agent.dir, { depth: 11 }));
    assert.match(depth.message, /^`depth`: Too big/);
    const badJson = await paddockError(() =>
      agent.client.raw({ method: 'POST', path: '/files/mkdir', body: Readable.from([Buffer.from('{nope')]) }),
    );
    assert.equal(badJson.code, 'INVALID_ARGUMENT');
    const empty = await agent.client.readFile(join(agent.dir, 'plain'));
    assert.equal(empty.sizeBytes, 0);
    assert.equal((await empty.stream.toArray()).length, 0);
  });

  it('reports DISK_FULL, removes the partial file and stays usable', async (t) => {
    const mountPoint = join(agent.dir, 'small');
    mkdirSync(mountPoint);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { stdio: 'ignore' });
    } catch {
      t.skip('cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)');
      return;
    }
    try {
      const err = await paddockError(() =>
        agent.client.writeFile(join(mountPoint, 'big.bin'), generated(8 * MiB).stream),
      );
      assert.equal(err.code, 'DISK_FULL');
      assert.match(err.message, /big\.bin/);
      await waitFor('the partial temp file to be removed', () => readdirSync(mountPoint).length === 0);
      assert.equal((await agent.client.health()).ok, true);
      const info = await agent.client.writeFile(join(mountPoint, 'small.txt'), Readable.from([Buffer.from('ok')]));
      assert.equal(info.sizeBytes, 2);
    } finally {
      execFileSync('umount', [mountPoint]);
    }
  });
});
