import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { PaddockError } from '@paddock/protocol';
import { collectGarbage } from '../../packages/server/src/templates/images/layout-gc.js';
import {
  blobPath,
  findByTag,
  readStoredImage,
  toImageConfig,
} from '../../packages/server/src/templates/images/oci-layout.js';
import {
  LAYER_TYPES,
  makeImage,
  storeLayer,
  storeManifest,
  tagInLayout,
  tarLayer,
  writeBlob,
} from '../support/oci-image.js';

let layout: string;
beforeEach(async () => {
  layout = await mkdtemp(join(tmpdir(), 'paddock-layout-'));
});
afterEach(async () => {
  await rm(layout, { recursive: true, force: true });
});

function blobs(): string[] {
  return readdirSync(join(layout, 'blobs', 'sha256')).sort();
}

/** A manifest list / index over `manifests`, stored and tagged. */
function storeIndex(
  mediaType: string,
  manifests: { digest: string; size: number; mediaType: string; arch: string; variant?: string }[],
): { digest: string; size: number } {
  const doc = JSON.stringify({
    schemaVersion: 2,
    mediaType,
    manifests: manifests.map((m) => ({
      mediaType: m.mediaType,
      digest: m.digest,
      size: m.size,
      platform: { os: 'linux', architecture: m.arch, ...(m.variant ? { variant: m.variant } : {}) },
    })),
  });
  return { digest: writeBlob(layout, doc), size: Buffer.byteLength(doc) };
}

describe('readStoredImage', () => {
  it('reads a manifest, its layers and the config the template keeps', async () => {
    const digest = await makeImage(layout, [{ entries: [{ name: 'a', content: 'x' }] }], {
      tag: 'v1',
      config: {
        Env: ['PATH=/usr/bin:/bin', 'EMPTY=', 'BARE', 'EQ=a=b'],
        WorkingDir: '/app',
        User: '1000:1000',
        Entrypoint: ['/entry'],
        Cmd: null,
      },
    });
    assert.equal(findByTag(layout, 'v1'), digest);
    assert.equal(findByTag(layout, 'v2'), undefined);
    const image = readStoredImage(layout, digest);
    assert.equal(image.manifestDigest, digest);
    assert.equal(image.layers.length, 1);
    assert.equal(image.layers[0]?.mediaType, LAYER_TYPES.gzip);
    assert.equal(image.diffIds.length, 1);
    assert.deepEqual(image.config, {
      env: { PATH: '/usr/bin:/bin', EMPTY: '', BARE: '', EQ: 'a=b' },
      workdir: '/app',
      user: '1000:1000',
      entrypoint: ['/entry'],
    });
  });

  it('picks linux/amd64 from an OCI index, whatever the variant', async () => {
    const tarBytes = await tarLayer([{ name: 'f', content: 'x' }]);
    const arm = storeManifest(layout, { layers: [storeLayer(layout, tarBytes, LAYER_TYPES.gzip)] });
    const amdLayer = storeLayer(layout, await tarLayer([{ name: 'amd', content: 'y' }]), LAYER_TYPES.zstd);
    const amd = storeManifest(layout, { layers: [amdLayer] });
    const index = storeIndex('application/vnd.oci.image.index.v1+json', [
      { ...arm, arch: 'arm64', variant: 'v8' },
      { ...amd, arch: 'amd64', variant: 'v3' },
    ]);
    tagInLayout(layout, { ...index, mediaType: 'application/vnd.oci.image.index.v1+json', tag: 'multi' });
    const image = readStoredImage(layout, findByTag(layout, 'multi') as string);
    assert.equal(image.manifestDigest, amd.digest);
    assert.deepEqual(image.layers, [{ digest: amdLayer.digest, mediaType: LAYER_TYPES.zstd, size: amdLayer.size }]);
  });

  it('reads Docker schema2 manifest lists and manifests', async () => {
    const layer = storeLayer(layout, await tarLayer([{ name: 'f', content: 'x' }]), LAYER_TYPES.dockerGzip);
    const manifest = storeManifest(layout, { layers: [layer], docker: true });
    const list = storeIndex('application/vnd.docker.distribution.manifest.list.v2+json', [
      { ...manifest, arch: 'amd64' },
    ]);
    const image = readStoredImage(layout, list.digest);
    assert.equal(image.manifestDigest, manifest.digest);
    assert.equal(image.layers[0]?.mediaType, LAYER_TYPES.dockerGzip);
  });

  it('refuses an index without linux/amd64, naming what it has', async () => {
    const arm = storeManifest(layout, { layers: [] });
    const index = storeIndex('application/vnd.oci.image.index.v1+json', [{ ...arm, arch: 'arm64' }]);
    assert.throws(() => readStoredImage(layout, index.digest), /no linux\/amd64 manifest \(it has linux\/arm64\)/);
  });

  it('refuses digests that are not sha256 hex, so none becomes a path', () => {
    for (const bad of ['sha256:../../etc/passwd', `sha256:${'A'.repeat(64)}`, `sha512:${'a'.repeat(64)}`, '../x']) {
      assert.throws(
        () => blobPath(layout, bad),
        (err) => err instanceof PaddockError && err.code === 'INVALID_ARGUMENT',
      );
      assert.throws(() => readStoredImage(layout, bad), /not a sha256 digest/);
    }
  });

  it('refuses a stored document that does not match its digest, and a missing one', async () => {
    const digest = await makeImage(layout, [{ entries: [{ name: 'f', content: 'x' }] }]);
    writeFileSync(blobPath(layout, digest), '{"schemaVersion":2,"config":{},"layers":[]}');
    assert.throws(
      () => readStoredImage(layout, digest),
      (err) => err instanceof PaddockError && err.code === 'TEMPLATE_BUILD_FAILED' && /corrupt/.test(err.message),
    );
    assert.throws(
      () => readStoredImage(layout, `sha256:${'0'.repeat(64)}`),
      (err) => err instanceof PaddockError && err.code === 'NOT_FOUND',
    );
  });

  it('maps a config without a config section to an empty env', () => {
    assert.deepEqual(toImageConfig({ rootfs: { type: 'layers', diff_ids: [] } }), { env: {} });
  });
});

describe('collectGarbage', () => {
  it('removes what kept images do not reach and the index entries not kept; returns bytes freed', async () => {
    const shared = { name: 'shared', content: 'same in both' };
    const keepDigest = await makeImage(layout, [{ entries: [shared] }, { entries: [{ name: 'k', content: 'k' }] }], {
      tag: 'keep',
    });
    const before = new Set(blobs());
    const dropDigest = await makeImage(layout, [{ entries: [shared] }, { entries: [{ name: 'd', content: 'd' }] }], {
      tag: 'drop',
    });
    const dropOnly = blobs().filter((b) => !before.has(b));
    assert.ok(dropOnly.length >= 3, 'the dropped image has its own manifest, config and layer');
    // skopeo's temporary files live in the layout root; a stray non-digest name in blobs/ stays too.
    writeFileSync(join(layout, 'oci-put-blob-123'), 'half written');
    writeFileSync(join(layout, 'blobs', 'sha256', 'not-a-digest.tmp'), 'x');
    const expectedFreed = dropOnly.reduce((sum, b) => sum + statSync(join(layout, 'blobs', 'sha256', b)).size, 0);

    const freed = collectGarbage(layout, [keepDigest]);

    assert.equal(freed, expectedFreed);
    assert.deepEqual(blobs(), [...before, 'not-a-digest.tmp'].sort());
    assert.ok(existsSync(join(layout, 'oci-put-blob-123')));
    assert.equal(findByTag(layout, 'keep'), keepDigest);
    assert.equal(findByTag(layout, 'drop'), undefined);
    assert.ok(readStoredImage(layout, keepDigest));
    assert.throws(() => readStoredImage(layout, dropDigest), /not in the image layout/);
    assert.equal(collectGarbage(layout, [keepDigest]), 0, 'a second run finds nothing');
  });

  it('keeps every platform manifest of a kept index, and fresh blobs within the grace time', async () => {
    const a = storeManifest(layout, {
      layers: [storeLayer(layout, await tarLayer([{ name: 'a', content: 'a' }]), LAYER_TYPES.gzip)],
    });
    const b = storeManifest(layout, {
      layers: [storeLayer(layout, await tarLayer([{ name: 'b', content: 'b' }]), LAYER_TYPES.gzip)],
    });
    const index = storeIndex('application/vnd.oci.image.index.v1+json', [
      { ...a, arch: 'amd64' },
      { ...b, arch: 'arm64' },
    ]);
    tagInLayout(layout, { ...index, mediaType: 'application/vnd.oci.image.index.v1+json', tag: 'multi' });
    const orphan = writeBlob(layout, 'a finished blob of a pull still running');
    const all = blobs();

    assert.equal(collectGarbage(layout, [index.digest], { graceMs: 60_000 }), 0);
    assert.deepEqual(blobs(), all);
    const freed = collectGarbage(layout, [index.digest]);
    assert.equal(freed, Buffer.byteLength('a finished blob of a pull still running'));
    assert.equal(existsSync(blobPath(layout, orphan)), false);
    assert.equal(JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')).manifests.length, 1);
  });
});
