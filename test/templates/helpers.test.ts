import assert from 'node:assert/strict';
import { chmod, link, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { shiftTree } from '../../packages/server/src/runtime/shift-ownership.js';
import { throttleLines } from '../../packages/server/src/templates/log-throttle.js';
import { mmdebstrapArgs } from '../../packages/server/src/templates/mmdebstrap.js';
import { parseMissingPackages } from '../../packages/server/src/templates/package-check.js';

describe('mmdebstrapArgs', () => {
  it('builds minbase without recommends from the host sources', () => {
    const args = mmdebstrapArgs({ suite: 'bookworm', packages: ['bash', 'python3'], target: '/d/rootfs' });
    assert.ok(args.includes('--variant=minbase'));
    assert.ok(args.includes('--include=bash,python3'));
    assert.ok(args.includes('--aptopt=APT::Install-Recommends "false"'));
    assert.deepEqual(args.slice(-3), ['bookworm', '/d/rootfs', '/etc/apt/sources.list.d/debian.sources']);
  });
});

describe('parseMissingPackages', () => {
  it("finds the names in apt's errors", () => {
    const lines = [
      'Reading package lists...',
      'E: Unable to locate package nope-one',
      "E: Package 'nope-two' has no installation candidate",
      'E: Unable to locate package nope-one',
    ];
    assert.deepEqual(parseMissingPackages(lines), ['nope-one', 'nope-two']);
  });
});

describe('throttleLines', () => {
  it('passes a burst up to the limit and reports how many it dropped', () => {
    let t = 0;
    const out: string[] = [];
    const log = throttleLines((l) => out.push(l), { maxLines: 2, windowMs: 1000, now: () => t });
    for (const l of ['a', 'b', 'c', 'd']) log.push(l);
    t = 1000;
    log.push('e');
    log.flush();
    assert.deepEqual(out, ['a', 'b', '… 2 lines not shown', 'e']);
  });
});

describe('shiftTree', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  it('shifts owners without following symlinks, keeps setuid bits, visits hardlinks once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paddock-shift-'));
    try {
      await mkdir(join(dir, 'home'));
      await writeFile(join(dir, 'suid'), '');
      await chmod(join(dir, 'suid'), 0o4755);
      await writeFile(join(dir, 'file'), '');
      await link(join(dir, 'file'), join(dir, 'hardlink'));
      await symlink('/etc/passwd', join(dir, 'escape'));
      const { lchown } = await import('node:fs/promises');
      await lchown(join(dir, 'home'), 1000, 1000);
      await shiftTree(dir, 100_000);
      assert.equal((await lstat(dir)).uid, 100_000);
      assert.equal((await lstat(join(dir, 'home'))).gid, 101_000);
      const suid = await lstat(join(dir, 'suid'));
      assert.equal(suid.uid, 100_000);
      assert.equal(suid.mode & 0o7777, 0o4755);
      assert.equal((await lstat(join(dir, 'hardlink'))).uid, 100_000);
      assert.equal((await lstat(join(dir, 'escape'))).uid, 100_000);
      assert.equal((await lstat('/etc/passwd')).uid, 0, 'followed a symlink out of the tree');
      await assert.rejects(shiftTree(dir, 100_000), /already shifted/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
