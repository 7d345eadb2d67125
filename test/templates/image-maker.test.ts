/**
 * The test image maker's output read back by real tools: umoci applies the whiteout layer,
 * skopeo reads the docker-save tarball, and an image from a directory tree takes the uid
 * shift of a prebuilt template's files off again.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { makeImage, makeImageFromTree, toDockerArchive, whiteoutLayers } from '../support/oci-image-maker.js';

const run = promisify(execFile);
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'paddock-image-maker-test-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function tarHeaders(data: Buffer): Promise<{ name: string; uid: number; gid: number }[]> {
  const headers: { name: string; uid: number; gid: number }[] = [];
  const reader = extract();
  const done = new Promise<void>((resolve, reject) => {
    reader.on('entry', (header, stream, next) => {
      headers.push({ name: header.name, uid: header.uid ?? -1, gid: header.gid ?? -1 });
      stream.on('end', next);
      stream.resume();
    });
    reader.on('finish', resolve);
    reader.on('error', reject);
  });
  reader.end(data);
  await done;
  return headers;
}

describe('oci-image-maker', () => {
  it('makes a whiteout image that umoci unpacks with the whiteouts applied', async () => {
    const image = await makeImage({ layers: whiteoutLayers(), config: { Env: ['A=1'], WorkingDir: '/dir' } });
    cleanups.push(image.cleanup);
    const bundle = join(await tempDir(), 'bundle');
    await run('umoci', ['unpack', '--rootless', '--image', `${image.layoutDir}:${image.tag}`, bundle]);
    assert.deepEqual((await readdir(join(bundle, 'rootfs'))).sort(), ['dir', 'keep']);
    assert.deepEqual(await readdir(join(bundle, 'rootfs', 'dir')), ['c']);
    const config = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8'));
    assert.ok(config.process.env.includes('A=1'));
    assert.equal(config.process.cwd, '/dir');
  });

  it('writes a docker save tarball that skopeo reads', async () => {
    const image = await makeImage({ layers: whiteoutLayers() });
    cleanups.push(image.cleanup);
    const path = join(await tempDir(), 'save.tar');
    await toDockerArchive(image, { repoTag: 'team/w:1', path });
    const { stdout } = await run('skopeo', ['inspect', `docker-archive:${path}`]);
    assert.deepEqual(
      JSON.parse(stdout).Layers,
      image.layers.map((l) => l.diffId),
    );
  });

  it('makes an image from a tree, taking the id shift off and padding to a size', async () => {
    const root = await tempDir();
    await run('sh', [
      '-c',
      `mkdir -p "$1/a" && echo hi > "$1/a/f" && ln -s f "$1/a/l" && chown -R 100000:100001 "$1/a"`,
      'sh',
      root,
    ]);
    const image = await makeImageFromTree({ root, idShift: 100000, padBytes: 100_000 });
    cleanups.push(image.cleanup);
    const layer = image.layers[0];
    assert.ok(layer !== undefined);
    const headers = await tarHeaders(
      gunzipSync(await readFile(join(image.layoutDir, 'blobs', 'sha256', layer.digest.slice(7)))),
    );
    const byName = new Map(headers.map((h) => [h.name, h]));
    assert.deepEqual(byName.get('a/f'), { name: 'a/f', uid: 0, gid: 1 });
    assert.ok(byName.has('a/l') && byName.has('paddock-pad/000'));
    assert.ok(layer.size > 100_000);
  });
});
