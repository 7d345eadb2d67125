/**
 * Pulls into the shared OCI layout with skopeo from a real registry (docker-registry in a
 * namespace of ours) and from archives: normalizing, pinning, platform choice, auth, typed
 * errors, corruption, abort + resume, progress, and that no password leaks.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PaddockError } from '@paddock/protocol';
import type { ImageProgress } from '../../packages/server/src/templates/images/image-types.js';
import { copyIntoLayout } from '../../packages/server/src/templates/images/skopeo-copy.js';
import { TEST_ROOT } from '../support/env.js';
import {
  type MadeImage,
  type MultiArchImage,
  makeImage,
  makeMultiArchImage,
  toDockerArchive,
  toOciArchive,
} from '../support/oci-image-maker.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

const PASSWORD = 'pw-7f3a9c-secret';
const USERS = { ann: PASSWORD };

let root: string;
let plain: TestRegistry;
let small: MadeImage;
let multi: MultiArchImage;
const made: { cleanup(): Promise<void> }[] = [];

/** A fresh layout dir (not yet made) under the test root; the pull makes it. */
async function newLayout(): Promise<string> {
  return join(await mkdtemp(join(root, 'pull-')), 'layout');
}

async function indexEntries(layoutDir: string): Promise<{ digest: string; annotations?: Record<string, string> }[]> {
  if (!existsSync(join(layoutDir, 'index.json'))) return [];
  return (JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')) as { manifests: [] }).manifests;
}

async function leftovers(layoutDir: string): Promise<string[]> {
  const inLayout = existsSync(layoutDir) ? await readdir(layoutDir) : [];
  const inParent = await readdir(join(layoutDir, '..'));
  return [
    ...inLayout.filter((n) => n.startsWith('oci-put-blob') || n.startsWith('index.json.')),
    ...inParent.filter((n) => n.startsWith('.skopeo-')),
  ];
}

async function blobs(layoutDir: string): Promise<string[]> {
  return readdir(join(layoutDir, 'blobs', 'sha256')).catch(() => []);
}

function random(bytes: number): Buffer {
  return randomBytes(bytes);
}

function rejectsWith(code: string, message: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof PaddockError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    assert.ok(!JSON.stringify({ m: error.message, d: error.details }).includes(PASSWORD));
    return true;
  };
}

before(async () => {
  await mkdir(TEST_ROOT, { recursive: true });
  root = await mkdtemp(join(TEST_ROOT, 'images-pull-'));
  plain = await startTestRegistry();
  small = await makeImage({
    layers: [
      {
        entries: [
          { path: 'etc', type: 'dir' },
          { path: 'etc/motd', type: 'file', data: 'hello' },
        ],
      },
      { entries: [{ path: 'blob', type: 'file', data: random(3000) }], compression: 'zstd' },
    ],
    config: { Env: ['A=1'], Cmd: ['sh'] },
  });
  multi = await makeMultiArchImage();
  made.push(small, multi);
  await plain.push(small.layoutDir, small.tag, 'team/small:1');
  await plain.push(multi.layoutDir, multi.tag, 'team/multi:1');
});

after(async () => {
  await plain?.close();
  for (const image of made) await image.cleanup();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe('copyIntoLayout from a registry', () => {
  it('pulls by tag: the manifest digest, one index entry named by it, progress to the total', async () => {
    const layoutDir = await newLayout();
    const events: ImageProgress[] = [];
    const { manifestDigest } = await copyIntoLayout({
      source: { kind: 'registry', ref: plain.refFor('team/small', '1'), insecure: true },
      layoutDir,
      onProgress: (p) => events.push(p),
    });
    assert.equal(manifestDigest, small.manifestDigest);
    const entries = await indexEntries(layoutDir);
    assert.deepEqual(
      entries.map((e) => [e.digest, e.annotations?.['org.opencontainers.image.ref.name']]),
      [[manifestDigest, manifestDigest]],
    );
    const total = small.layers.reduce((sum, l) => sum + l.size, 0);
    assert.deepEqual(events.at(-1), {
      phase: 'pull',
      layersDone: 2,
      layersTotal: 2,
      bytesDone: total,
      bytesTotal: total,
    });
    assert.deepEqual(await leftovers(layoutDir), []);
  });

  it('pins by digest (with and without a tag) and pulling again keeps one entry', async () => {
    const layoutDir = await newLayout();
    for (const ref of [
      `${plain.host}/team/small@${small.manifestDigest}`,
      `${plain.host}/team/small:ignored@${small.manifestDigest}`,
    ]) {
      const { manifestDigest } = await copyIntoLayout({ source: { kind: 'registry', ref, insecure: true }, layoutDir });
      assert.equal(manifestDigest, small.manifestDigest);
    }
    assert.equal((await indexEntries(layoutDir)).length, 1);
  });

  it('picks linux/amd64 from a multi-arch index', async () => {
    const layoutDir = await newLayout();
    const { manifestDigest } = await copyIntoLayout({
      source: { kind: 'registry', ref: plain.refFor('team/multi', '1'), insecure: true },
      layoutDir,
    });
    assert.equal(manifestDigest, multi.manifests.amd64);
    assert.notEqual(manifestDigest, multi.manifests.arm64);
  });

  it('copies a zstd layer unchanged', async () => {
    const layoutDir = await newLayout();
    const { manifestDigest } = await copyIntoLayout({
      source: { kind: 'registry', ref: plain.refFor('team/small', '1'), insecure: true },
      layoutDir,
    });
    const manifest = JSON.parse(await readFile(join(layoutDir, 'blobs', 'sha256', manifestDigest.slice(7)), 'utf8'));
    const zstd = small.layers[1];
    assert.ok(zstd !== undefined);
    assert.deepEqual(manifest.layers[1], {
      mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
      digest: zstd.digest,
      size: zstd.size,
    });
    assert.ok((await blobs(layoutDir)).includes(zstd.digest.slice(7)));
  });

  it('names the ref in NOT_FOUND for an unknown repository and an unknown tag', async () => {
    const layoutDir = await newLayout();
    for (const ref of [plain.refFor('team/nope', '1'), plain.refFor('team/small', 'nope')]) {
      await assert.rejects(
        copyIntoLayout({ source: { kind: 'registry', ref, insecure: true }, layoutDir }),
        rejectsWith('NOT_FOUND', new RegExp(ref.replace(/[.]/g, '\\.'))),
      );
    }
  });

  it('refuses plain HTTP without insecure, saying which option to set', async () => {
    await assert.rejects(
      copyIntoLayout({
        source: { kind: 'registry', ref: plain.refFor('team/small', '1') },
        layoutDir: await newLayout(),
      }),
      rejectsWith('INVALID_ARGUMENT', /plain HTTP.*insecure: true/),
    );
  });

  it('serializes copies into one layout: concurrent pulls keep both index entries', async () => {
    const layoutDir = await newLayout();
    const results = await Promise.all([
      copyIntoLayout({ source: { kind: 'registry', ref: plain.refFor('team/small', '1'), insecure: true }, layoutDir }),
      copyIntoLayout({ source: { kind: 'registry', ref: plain.refFor('team/multi', '1'), insecure: true }, layoutDir }),
    ]);
    const digests = (await indexEntries(layoutDir)).map((e) => e.digest).sort();
    assert.deepEqual(digests, results.map((r) => r.manifestDigest).sort());
  });
});

for (const auth of ['basic', 'token'] as const) {
  describe(`copyIntoLayout with ${auth} auth`, () => {
    let registry: TestRegistry;
    before(async () => {
      registry = await startTestRegistry({ auth, users: USERS });
      await registry.push(small.layoutDir, small.tag, 'private/small:1');
    });
    after(() => registry?.close());

    it('pulls with the right credentials; the password is in no progress event', async () => {
      const events: ImageProgress[] = [];
      const { manifestDigest } = await copyIntoLayout({
        source: {
          kind: 'registry',
          ref: registry.refFor('private/small', '1'),
          insecure: true,
          credentials: { username: 'ann', password: PASSWORD },
        },
        layoutDir: await newLayout(),
        onProgress: (p) => events.push(p),
      });
      assert.equal(manifestDigest, small.manifestDigest);
      assert.ok(events.length > 0);
      assert.ok(!JSON.stringify(events).includes(PASSWORD));
    });

    it('answers UNAUTHENTICATED naming the registry for a wrong or missing password', async () => {
      const layoutDir = await newLayout();
      const ref = registry.refFor('private/small', '1');
      const wrong = { username: 'ann', password: `${PASSWORD}-wrong` };
      for (const credentials of [wrong, undefined]) {
        await assert.rejects(
          copyIntoLayout({
            source: { kind: 'registry', ref, insecure: true, ...(credentials ? { credentials } : {}) },
            layoutDir,
          }),
          (error: unknown) => {
            rejectsWith('UNAUTHENTICATED', new RegExp(registry.host.replace(/[.]/g, '\\.')))(error);
            assert.ok(
              !JSON.stringify({ m: (error as Error).message, d: (error as PaddockError).details }).includes(
                wrong.password,
              ),
            );
            return true;
          },
        );
      }
      assert.deepEqual(await leftovers(layoutDir), []);
    });
  });
}

describe('copyIntoLayout failures that must leave nothing behind', () => {
  it('refuses a blob whose content does not match its digest, and keeps nothing of the pull', async () => {
    const image = await makeImage({
      layers: [
        { entries: [{ path: 'good', type: 'file', data: random(200_000) }], compression: 'none' },
        { entries: [{ path: 'bad', type: 'file', data: random(1000) }] },
      ],
    });
    made.push(image);
    await plain.push(image.layoutDir, image.tag, 'team/corrupt:1');
    const bad = image.layers[1];
    assert.ok(bad !== undefined);
    plain.corruptBlob(bad.digest);
    const layoutDir = await newLayout();
    // A layout already in use: what was there stays.
    await copyIntoLayout({
      source: { kind: 'registry', ref: plain.refFor('team/multi', '1'), insecure: true },
      layoutDir,
    });
    const blobsBefore = await blobs(layoutDir);
    const entriesBefore = await indexEntries(layoutDir);
    await assert.rejects(
      copyIntoLayout({
        source: { kind: 'registry', ref: plain.refFor('team/corrupt', '1'), insecure: true },
        layoutDir,
      }),
      rejectsWith('TEMPLATE_BUILD_FAILED', /digest did not match/),
    );
    assert.deepEqual(await leftovers(layoutDir), []);
    assert.deepEqual(await blobs(layoutDir), blobsBefore);
    assert.deepEqual(await indexEntries(layoutDir), entriesBefore);
  });

  it('stops skopeo on abort, keeps finished blobs, and a re-pull fetches only the missing one', {
    timeout: 60_000,
  }, async () => {
    const image = await makeImage({
      layers: [
        { entries: [{ path: 'a', type: 'file', data: random(100_000) }], compression: 'none' },
        { entries: [{ path: 'b', type: 'file', data: random(100_000) }], compression: 'none' },
        { entries: [{ path: 'slow', type: 'file', data: random(4 << 20) }], compression: 'none' },
      ],
    });
    made.push(image);
    await plain.push(image.layoutDir, image.tag, 'team/resume:1');
    const [a, b, slow] = image.layers;
    assert.ok(a !== undefined && b !== undefined && slow !== undefined);
    await plain.stallBlob(slow.digest);
    const layoutDir = await newLayout();
    const source = { kind: 'registry' as const, ref: plain.refFor('team/resume', '1'), insecure: true };
    const controller = new AbortController();
    let markTwoDone = (): void => {};
    const twoDone = new Promise<void>((resolve) => {
      markTwoDone = resolve;
    });
    const pull = copyIntoLayout({
      source,
      layoutDir,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.layersDone >= 2) markTwoDone();
      },
    });
    pull.catch(() => undefined);
    await plain.waitForRequest((r) => r.stalled === true && r.path.endsWith(slow.digest));
    await twoDone;
    const reason = new Error('stop');
    controller.abort(reason);
    await assert.rejects(pull, (error) => error === reason);
    const kept = await blobs(layoutDir);
    assert.ok(kept.includes(a.digest.slice(7)) && kept.includes(b.digest.slice(7)));
    assert.ok(!kept.includes(slow.digest.slice(7)));
    assert.deepEqual(await leftovers(layoutDir), []);
    assert.deepEqual(await indexEntries(layoutDir), []);

    await plain.release();
    const { manifestDigest } = await copyIntoLayout({ source, layoutDir });
    assert.equal(manifestDigest, image.manifestDigest);
    const gets = (digest: string): number =>
      plain.requests.filter(
        (r) => r.method === 'GET' && r.status === 200 && !r.stalled && r.path.endsWith(`/blobs/${digest}`),
      ).length;
    // Once by the aborted pull, never again; the stalled one cut off once, then fetched whole.
    assert.equal(gets(a.digest), 1);
    assert.equal(gets(b.digest), 1);
    assert.equal(plain.requests.filter((r) => r.stalled === true).length, 1);
    assert.equal(gets(slow.digest), 1);
  });
});

describe('copyIntoLayout from files', () => {
  it('imports an OCI layout dir, an OCI archive and a docker save archive', async () => {
    const layoutDir = await newLayout();
    const dir = await mkdtemp(join(root, 'files-'));
    const ociTar = join(dir, 'image.oci.tar');
    const dockerTar = join(dir, 'image.docker.tar');
    await toOciArchive(small.layoutDir, ociTar);
    await toDockerArchive(small, { repoTag: 'team/small:1', path: dockerTar });
    const fromDir = await copyIntoLayout({ source: { kind: 'oci-dir', path: small.layoutDir }, layoutDir });
    assert.equal(fromDir.manifestDigest, small.manifestDigest);
    const fromArchive = await copyIntoLayout({ source: { kind: 'oci-archive', path: ociTar }, layoutDir });
    assert.equal(fromArchive.manifestDigest, small.manifestDigest);
    const fromDocker = await copyIntoLayout({ source: { kind: 'docker-archive', path: dockerTar }, layoutDir });
    const manifest = JSON.parse(
      await readFile(join(layoutDir, 'blobs', 'sha256', fromDocker.manifestDigest.slice(7)), 'utf8'),
    );
    assert.equal(manifest.layers.length, 2);
    const entries = (await indexEntries(layoutDir)).map((e) => e.digest).sort();
    assert.deepEqual(entries, [small.manifestDigest, fromDocker.manifestDigest].sort());
    await assert.rejects(
      copyIntoLayout({ source: { kind: 'oci-archive', path: join(dir, 'missing.tar') }, layoutDir }),
      rejectsWith('NOT_FOUND', /missing\.tar/),
    );
  });
});
