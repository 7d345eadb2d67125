import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PaddockError } from '@paddock/protocol';
import type { ImageProgress } from '../../packages/server/src/templates/images/image-types.js';
import { blobPath, readStoredImage } from '../../packages/server/src/templates/images/oci-layout.js';
import { type UnpackStats, unpackImage } from '../../packages/server/src/templates/images/unpack-image.js';
import { type Compression, LAYER_TYPES, type LayerEntry, makeImage } from '../support/oci-image.js';

const BASE = 100_000;
const SHIFT = { base: BASE, count: 65_536 };
const isRoot = process.getuid?.() === 0;
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('unpackImage', { skip: isRoot ? false : 'needs root (lchown to shifted ids)' }, () => {
  let dir: string;
  let layout: string;
  let n = 0;
  const hostPasswd = sha('/etc/passwd');
  const hostShadow = lstatSync('/etc/shadow');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'paddock-unpack-'));
    layout = join(dir, 'layout');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    // Whatever an image tried, the host's files are as they were.
    assert.equal(sha('/etc/passwd'), hostPasswd);
    assert.equal(lstatSync('/etc/shadow').nlink, hostShadow.nlink);
  });

  /** Makes an image from layers and unpacks it into a fresh `box/rootfs`; the box must hold nothing else after. */
  async function unpack(
    layers: { entries: LayerEntry[]; mediaType?: string; compression?: Compression }[],
    extra: { onProgress?: (p: ImageProgress) => void; signal?: AbortSignal } = {},
  ): Promise<{ root: string; stats: UnpackStats }> {
    const box = join(dir, `box${n++}`);
    const root = join(box, 'rootfs');
    await mkdir(root, { recursive: true, mode: 0o700 }); // as mkdtemp makes it
    const digest = await makeImage(layout, layers, { tag: `t${n}` });
    try {
      const stats = await unpackImage({
        layoutDir: layout,
        image: readStoredImage(layout, digest),
        target: root,
        idShift: SHIFT,
        ...extra,
      });
      return { root, stats };
    } finally {
      assert.deepEqual(readdirSync(box), ['rootfs'], 'nothing is written beside the target');
    }
  }

  async function refused(layers: { entries: LayerEntry[] }[], code: string, message: RegExp): Promise<void> {
    await assert.rejects(unpack(layers), (err) => {
      assert.ok(err instanceof PaddockError, String(err));
      assert.equal(err.code, code);
      assert.match(err.message, message);
      return true;
    });
  }

  it('writes files, dirs, links with shifted owners, modes (setuid too), mtimes and long names', async () => {
    const longName = `usr/share/${'d'.repeat(120)}/${'f'.repeat(110)}.txt`;
    const mtime = new Date('2023-05-06T07:08:09Z');
    const { root, stats } = await unpack([
      {
        entries: [
          { name: './', mode: 0o755 },
          { name: './etc/', mode: 0o755 },
          { name: './etc/hostname', content: 'box\n', mode: 0o644, mtime },
          { name: 'usr/bin/su', content: 'ELF', mode: 0o4755 },
          { name: 'home/user/', uid: 1000, gid: 1000, mode: 0o700 },
          { name: 'home/user/notes', content: 'hi', uid: 1000, gid: 1001, mode: 0o600 },
          { name: 'ro/', mode: 0o555, mtime },
          { name: 'ro/child', content: 'written under a read-only dir' },
          { name: 'tmp/', mode: 0o1777 },
          { name: 'bin', type: 'symlink', linkname: 'usr/bin' },
          { name: 'usr/bin/su-again', type: 'link', linkname: 'usr/bin/su' },
          { name: longName, content: 'long' },
          { name: 'dev/null', type: 'character-device' },
          { name: 'run/fifo', type: 'fifo' },
          { name: 'usr/bin/ping', content: 'ELF', pax: { 'SCHILY.xattr.security.capability': 'x' } },
        ],
      },
    ]);
    assert.equal(readFileSync(join(root, 'etc/hostname'), 'utf8'), 'box\n');
    const hostname = lstatSync(join(root, 'etc/hostname'));
    assert.equal(hostname.uid, BASE);
    assert.equal(hostname.mtime.getTime(), mtime.getTime());
    assert.equal(lstatSync(join(root, 'usr/bin/su')).mode & 0o7777, 0o4755);
    const notes = lstatSync(join(root, 'home/user/notes'));
    assert.deepEqual([notes.uid, notes.gid, notes.mode & 0o7777], [BASE + 1000, BASE + 1001, 0o600]);
    assert.equal(lstatSync(join(root, 'home/user')).mode & 0o7777, 0o700);
    const ro = lstatSync(join(root, 'ro'));
    assert.equal(ro.mode & 0o7777, 0o555);
    assert.equal(ro.mtime.getTime(), mtime.getTime(), 'dir mtimes are set after their children');
    assert.equal(readFileSync(join(root, 'ro/child'), 'utf8'), 'written under a read-only dir');
    assert.equal(lstatSync(join(root, 'tmp')).mode & 0o7777, 0o1777);
    assert.equal(readlinkSync(join(root, 'bin')), 'usr/bin');
    assert.equal(lstatSync(join(root, 'bin')).uid, BASE);
    assert.equal(lstatSync(join(root, 'usr/bin/su-again')).ino, lstatSync(join(root, 'usr/bin/su')).ino);
    assert.equal(readFileSync(join(root, longName), 'utf8'), 'long');
    assert.equal(lstatSync(join(root, 'usr')).uid, BASE, 'implicit parents are owned by the shifted root');
    assert.equal(lstatSync(root).uid, BASE);
    assert.equal(existsSync(join(root, 'dev/null')), false);
    assert.equal(existsSync(join(root, 'run/fifo')), false);
    assert.equal(stats.skippedSpecial, 2);
    assert.equal(stats.skippedXattrs, 1);
  });

  it('applies whiteouts and opaque dirs across gzip, zstd, plain and docker layers', async () => {
    const { root } = await unpack([
      {
        entries: [
          { name: 'a/keep', content: '1' },
          { name: 'a/gone', content: '1' },
          { name: 'a/gonedir/deep', content: '1' },
          { name: 'opq/old', content: '1' },
          { name: 'opq/sub/old2', content: '1' },
          { name: 'opq/sub/keepme-not', content: '1' },
          { name: 'link', type: 'symlink', linkname: 'a' },
          { name: 'b/x', content: '1' },
        ],
      },
      {
        mediaType: LAYER_TYPES.zstd,
        entries: [
          { name: 'a/.wh.gone' },
          { name: 'a/.wh.gonedir' },
          { name: 'opq/new', content: '2' },
          { name: 'opq/sub/', mode: 0o750 },
          { name: 'opq/.wh..wh..opq' },
          { name: 'opq/sub/new2', content: '2' },
          { name: 'a/.wh..wh.plnk' },
        ],
      },
      {
        mediaType: LAYER_TYPES.none,
        entries: [
          // A symlink replaced by a directory: the new files land in it, not in what it pointed to.
          { name: 'link/', mode: 0o755 },
          { name: 'link/file', content: '3' },
        ],
      },
      { mediaType: LAYER_TYPES.dockerGzip, entries: [{ name: 'b', content: 'now a file' }] },
      // skopeo labels the plain layers of a `docker save` archive tar.gzip: the bytes decide.
      { mediaType: LAYER_TYPES.dockerGzip, compression: 'none', entries: [{ name: 'plain', content: 'p' }] },
      { mediaType: LAYER_TYPES.gzip, compression: 'zstd', entries: [{ name: 'zst', content: 'z' }] },
    ]);
    const rootSt = lstatSync(root);
    assert.deepEqual(
      [rootSt.uid, rootSt.gid, rootSt.mode & 0o7777],
      [BASE, BASE, 0o755],
      'the root without a ./ entry',
    );
    assert.equal(readFileSync(join(root, 'plain'), 'utf8'), 'p');
    assert.equal(readFileSync(join(root, 'zst'), 'utf8'), 'z');
    assert.deepEqual(readdirSync(join(root, 'a')).sort(), ['keep']);
    assert.deepEqual(readdirSync(join(root, 'opq')).sort(), ['new', 'sub']);
    assert.deepEqual(readdirSync(join(root, 'opq/sub')), ['new2']);
    assert.equal(lstatSync(join(root, 'opq/sub')).mode & 0o7777, 0o750);
    assert.ok(lstatSync(join(root, 'link')).isDirectory());
    assert.deepEqual(readdirSync(join(root, 'link')), ['file']);
    assert.equal(readFileSync(join(root, 'b'), 'utf8'), 'now a file');
  });

  it('resolves again after a symlink or dir it went through is replaced', async () => {
    const { root } = await unpack([
      {
        entries: [
          { name: 'real1/', mode: 0o755 },
          { name: 'real2/', mode: 0o755 },
          { name: 'lnk', type: 'symlink', linkname: 'real1' },
          { name: 'lnk/a', content: 'a' },
          { name: 'd/sub/f', content: 'f' },
        ],
      },
      {
        entries: [
          { name: 'lnk', type: 'symlink', linkname: '/real2' },
          { name: 'lnk/b', content: 'b' },
          { name: 'd', content: 'now a file' },
          { name: 'file-then-dir', content: 'x' },
        ],
      },
      {
        entries: [
          { name: 'lnk/c', content: 'c' },
          { name: 'd/', mode: 0o755 },
          { name: 'd/sub/g', content: 'g' },
          { name: 'file-then-dir/', mode: 0o755 },
          { name: 'file-then-dir/inner', content: 'i' },
        ],
      },
    ]);
    assert.deepEqual(readdirSync(join(root, 'real1')), ['a']);
    assert.deepEqual(readdirSync(join(root, 'real2')).sort(), ['b', 'c']);
    assert.deepEqual(readdirSync(join(root, 'd/sub')), ['g']);
    assert.equal(readFileSync(join(root, 'file-then-dir/inner'), 'utf8'), 'i');
  });

  it('refuses entries below a regular file', async () => {
    await refused(
      [
        {
          entries: [
            { name: 'f', content: 'x' },
            { name: 'f/g', content: 'y' },
          ],
        },
      ],
      'INVALID_ARGUMENT',
      /"f" in the image is not a directory/,
    );
  });

  it('refuses entries that climb out with ..', async () => {
    await refused([{ entries: [{ name: '../escape', content: 'x' }] }], 'INVALID_ARGUMENT', /climbs out/);
    await refused([{ entries: [{ name: 'a/../../escape', content: 'x' }] }], 'INVALID_ARGUMENT', /climbs out/);
    assert.equal(existsSync(join(dir, 'escape')), false);
  });

  it('resolves an absolute symlink parent inside the target', async () => {
    const { root } = await unpack([
      {
        entries: [
          { name: 'evil', type: 'symlink', linkname: '/' },
          { name: 'evil/etc/passwd', content: 'pwned\n' },
          { name: 'abs', type: 'symlink', linkname: '/etc' },
          { name: 'abs/shadow', content: 'inside\n' },
        ],
      },
    ]);
    assert.equal(readFileSync(join(root, 'etc/passwd'), 'utf8'), 'pwned\n');
    assert.equal(readFileSync(join(root, 'etc/shadow'), 'utf8'), 'inside\n');
    assert.equal(readlinkSync(join(root, 'evil')), '/');
  });

  it('clamps relative symlinks with .. at the target root', async () => {
    const { root } = await unpack([
      {
        entries: [
          { name: 'x', type: 'symlink', linkname: '../../..' },
          { name: 'x/y', content: 'y' },
          { name: 'up', type: 'symlink', linkname: '..' },
          { name: 'deep/', mode: 0o755 },
          { name: 'deep/up', type: 'symlink', linkname: '../../../..' },
          { name: 'deep/up/up/z', content: 'z' },
        ],
      },
    ]);
    assert.equal(readFileSync(join(root, 'y'), 'utf8'), 'y');
    assert.equal(readFileSync(join(root, 'z'), 'utf8'), 'z');
    assert.equal(existsSync(join(dir, 'y')), false);
  });

  it('refuses symlink loops', async () => {
    await refused(
      [
        {
          entries: [
            { name: 'l1', type: 'symlink', linkname: 'l2' },
            { name: 'l2', type: 'symlink', linkname: 'l1' },
            { name: 'l1/f', content: 'x' },
          ],
        },
      ],
      'INVALID_ARGUMENT',
      /too many symlinks/,
    );
  });

  it('replaces a symlink as the final component instead of writing through it', async () => {
    const outside = join(dir, 'outside-file');
    writeFileSync(outside, 'untouched');
    const { root } = await unpack([
      { entries: [{ name: 'passwd', type: 'symlink', linkname: '/etc/passwd' }] },
      {
        entries: [
          { name: 'out', type: 'symlink', linkname: outside },
          { name: 'out', content: 'replaced' },
          { name: 'd', type: 'symlink', linkname: dir },
          { name: 'd/', mode: 0o700 },
          { name: 'passwd', content: 'mine' },
        ],
      },
    ]);
    assert.equal(readFileSync(outside, 'utf8'), 'untouched');
    assert.equal(readFileSync(join(root, 'out'), 'utf8'), 'replaced');
    assert.ok(lstatSync(join(root, 'out')).isFile());
    assert.ok(lstatSync(join(root, 'd')).isDirectory());
    assert.equal(readFileSync(join(root, 'passwd'), 'utf8'), 'mine');
  });

  it('refuses hard links to files outside the image', async () => {
    await refused(
      [{ entries: [{ name: 'shadow', type: 'link', linkname: '/etc/shadow' }] }],
      'INVALID_ARGUMENT',
      /hard link "shadow" points to "\/etc\/shadow"/,
    );
    await refused(
      [
        {
          entries: [
            { name: 'evil', type: 'symlink', linkname: '/' },
            { name: 'h', type: 'link', linkname: 'evil/etc/shadow' },
          ],
        },
      ],
      'INVALID_ARGUMENT',
      /not a regular file in the image/,
    );
    await refused(
      [
        {
          entries: [
            { name: 'sl', type: 'symlink', linkname: '/etc/shadow' },
            { name: 'h', type: 'link', linkname: 'sl' },
          ],
        },
      ],
      'INVALID_ARGUMENT',
      /not a regular file/,
    );
    await refused([{ entries: [{ name: 'h', type: 'link', linkname: '../x' }] }], 'INVALID_ARGUMENT', /climbs out/);
  });

  it('refuses ids above the mapped range, naming the file and the id', async () => {
    await refused(
      [{ entries: [{ name: 'opt/app', content: 'x', uid: 70_000 }] }],
      'INVALID_ARGUMENT',
      /ids above the mapped range: "opt\/app" .* uid 70000/,
    );
    await refused(
      [{ entries: [{ name: 'opt/big', content: 'x', pax: { gid: '4294967294' } }] }],
      'INVALID_ARGUMENT',
      /"opt\/big" .* gid 4294967294/,
    );
  });

  it('refuses a layer that does not match its digest', async () => {
    const digest = await makeImage(layout, [{ entries: [{ name: 'f', content: 'original content' }] }], {
      tag: 'corrupt',
    });
    const image = readStoredImage(layout, digest);
    const layer = image.layers[0]?.digest as string;
    const path = blobPath(layout, layer);
    const bytes = readFileSync(path);
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 0xff;
    writeFileSync(path, bytes);
    const target = await mkdtemp(join(dir, 'corrupt-'));
    await assert.rejects(
      unpackImage({ layoutDir: layout, image, target, idShift: SHIFT }),
      (err) => err instanceof PaddockError && err.code === 'TEMPLATE_BUILD_FAILED' && err.message.includes(layer),
    );
  });

  it('refuses an uncompressed layer whose tar is intact but altered', async () => {
    const digest = await makeImage(
      layout,
      [{ mediaType: LAYER_TYPES.none, entries: [{ name: 'f', content: 'AAAA' }] }],
      {
        tag: 'altered',
      },
    );
    const image = readStoredImage(layout, digest);
    const layer = image.layers[0]?.digest as string;
    const path = blobPath(layout, layer);
    writeFileSync(path, readFileSync(path).toString('latin1').replace('AAAA', 'BBBB'), 'latin1');
    const target = await mkdtemp(join(dir, 'altered-'));
    await assert.rejects(
      unpackImage({ layoutDir: layout, image, target, idShift: SHIFT }),
      (err) => err instanceof PaddockError && err.code === 'TEMPLATE_BUILD_FAILED' && err.message.includes(layer),
    );
  });

  it('refuses layer media types it cannot read, before writing anything', async () => {
    const digest = await makeImage(layout, [{ entries: [{ name: 'f', content: 'x' }] }], { tag: 'mt' });
    const image = readStoredImage(layout, digest);
    const target = await mkdtemp(join(dir, 'mt-'));
    const odd = { ...image, layers: image.layers.map((l) => ({ ...l, mediaType: 'application/x-rar' })) };
    await assert.rejects(
      unpackImage({ layoutDir: layout, image: odd, target, idShift: SHIFT }),
      /unsupported layer media type/,
    );
    assert.deepEqual(readdirSync(target), []);
  });

  it('kills the zstd child when aborted in the middle of a layer', async () => {
    const children = () =>
      new Set(
        readdirSync('/proc/self/task').flatMap((t) =>
          readFileSync(`/proc/self/task/${t}/children`, 'utf8').split(' ').filter(Boolean),
        ),
      );
    const before = children();
    const entries = Array.from({ length: 40 }, (_, i) => ({ name: `f${i}`, content: randomBytes(1 << 20) }));
    const controller = new AbortController();
    let zstdPids: string[] = [];
    await assert.rejects(
      unpack([{ mediaType: LAYER_TYPES.zstd, entries }], {
        signal: controller.signal,
        onProgress: () => {
          if (controller.signal.aborted) return;
          zstdPids = [...children()].filter((pid) => !before.has(pid));
          controller.abort(new Error('stop'));
        },
      }),
      /stop/,
    );
    assert.equal(zstdPids.length, 1, 'zstd was running when the abort came');
    // SIGKILL is sent before the unpack rejects; the kernel reaps it a moment later.
    const pid = zstdPids[0] as string;
    const deadline = Date.now() + 5000;
    const running = () => {
      try {
        return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false; // gone
      }
    };
    while (running()) {
      assert.ok(Date.now() < deadline, `zstd (pid ${pid}) still runs after the abort`);
      await new Promise((r) => setImmediate(r));
    }
  });

  it('reports progress per layer and stops with the signal reason', async () => {
    const events: ImageProgress[] = [];
    const layers = [
      { entries: [{ name: 'one', content: 'x'.repeat(10_000) }] },
      { mediaType: LAYER_TYPES.zstd, entries: [{ name: 'two', content: 'y' }] },
    ];
    await unpack(layers, { onProgress: (p) => events.push(p) });
    const last = events.at(-1);
    assert.equal(last?.layersDone, 2);
    assert.equal(last?.bytesDone, last?.bytesTotal);
    assert.ok(events.some((e) => e.layersDone === 1));

    const controller = new AbortController();
    const reason = new Error('stop here');
    await assert.rejects(
      unpack(layers, {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.layersDone === 1) controller.abort(reason);
        },
      }),
      (err) => err === reason,
    );
  });
});
