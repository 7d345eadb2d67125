/**
 * Templates from images (issue 13's numbers):
 *  1. pull + unpack of a ~1 GiB image by Paddock (skopeo into the shared layout, our unpacker
 *     with the uid shift in the same pass) vs `skopeo copy` + `umoci unpack` alone, same
 *     registry (goal: within 1.2×);
 *  2. create → first command from an image-based template vs the Debian-spec `base` template
 *     it was made from (same files, same size; goal: equal).
 * The no-op rebuild of a cached Dockerfile is measured by `bench/dockerfile.bench.ts`.
 * Needs root, the built templates and Debian's docker-registry/skopeo/umoci (scripts/setup.sh).
 * `PADDOCK_BENCH_IMAGE_MIB` sets the image size (default 1024).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Sandbox, Template } from '@paddock/sdk';
import { UID_BASE, UID_COUNT } from '../packages/server/src/runtime/uid-map.js';
import { readStoredImage } from '../packages/server/src/templates/images/oci-layout.js';
import { copyIntoLayout } from '../packages/server/src/templates/images/skopeo-copy.js';
import { unpackImage } from '../packages/server/src/templates/images/unpack-image.js';
import { baseTemplateImage, baseTemplateRootfs } from '../test/support/base-image.js';
import { startTestRegistry } from '../test/support/test-registry.js';
import { withBenchServer } from './bench-server.js';
import { fmtMs, percentile, printTable, saveResult } from './stats.js';

const run = promisify(execFile);
const IMAGE_MIB = Number(process.env.PADDOCK_BENCH_IMAGE_MIB ?? 1024);
const ROUNDS = 3;
const CREATES = 10;

async function du(dir: string): Promise<number> {
  const { stdout } = await run('du', ['-sb', dir]);
  return Number(stdout.split('\t')[0]);
}

async function timed<T>(fn: () => Promise<T>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

const registry = await startTestRegistry({ auth: 'none' });
const work = await mkdtemp('/var/tmp/paddock-bench-images-');
const rows: string[][] = [];
const result: Record<string, unknown> = {};
try {
  // The base template's files, padded with incompressible bytes to the asked size.
  const baseBytes = await du(baseTemplateRootfs());
  const padBytes = Math.max(0, IMAGE_MIB * 2 ** 20 - baseBytes);
  process.stderr.write(`making a ${IMAGE_MIB} MiB image (base template + ${(padBytes / 2 ** 20).toFixed(0)} MiB)…\n`);
  const big = await baseTemplateImage({ padBytes, config: { User: 'user', WorkingDir: '/home/user' } });
  await registry.push(big.layoutDir, big.tag, 'bench/big:1');
  await big.cleanup();
  const ref = registry.refFor('bench/big', '1');

  const ours: number[] = [];
  const tools: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const dir = await mkdtemp(join(work, 'round-'));
    // Paddock: skopeo into a fresh layout, then our unpack with the uid shift.
    ours.push(
      await timed(async () => {
        const layoutDir = join(dir, 'ours-layout');
        const { manifestDigest } = await copyIntoLayout({
          source: { kind: 'registry', ref, insecure: true },
          layoutDir,
        });
        const image = await readStoredImage(layoutDir, manifestDigest);
        const target = join(dir, 'ours-rootfs');
        await run('mkdir', [target]);
        await unpackImage({ layoutDir, image, target, idShift: { base: UID_BASE, count: UID_COUNT } });
      }),
    );
    // The field's tools alone: skopeo copy + umoci unpack (root mode, no uid shift at all).
    tools.push(
      await timed(async () => {
        const layout = join(dir, 'tools-layout');
        await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${ref}`, `oci:${layout}:1`]);
        await run('umoci', ['unpack', '--image', `${layout}:1`, join(dir, 'tools-bundle')]);
      }),
    );
    await rm(dir, { recursive: true, force: true });
  }
  const ratio = percentile(ours, 50) / percentile(tools, 50);
  rows.push([
    `pull + unpack, ${IMAGE_MIB} MiB image`,
    'paddock',
    fmtMs(percentile(ours, 50)),
    fmtMs(Math.max(...ours)),
    '≤ 1.2× tools',
  ]);
  rows.push([
    'pull + unpack',
    'skopeo copy + umoci unpack',
    fmtMs(percentile(tools, 50)),
    fmtMs(Math.max(...tools)),
    '–',
  ]);
  rows.push(['ratio (p50)', '', `${ratio.toFixed(2)}×`, '', ratio <= 1.2 ? 'met' : 'MISSED']);
  result.pull = { imageMiB: IMAGE_MIB, oursMs: ours, toolsMs: tools, ratio };

  // Create → first command: the base template vs the same files as an image template.
  const small = await baseTemplateImage({
    config: {
      User: 'user',
      WorkingDir: '/home/user',
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    },
  });
  await registry.push(small.layoutDir, small.tag, 'bench/base:1');
  await small.cleanup();
  await withBenchServer({}, async (_server, conn) => {
    await Template.build(
      'bench-image-base',
      { from: { image: registry.refFor('bench/base', '1'), insecure: true } },
      {
        ...conn,
        requestTimeoutMs: 0,
      },
    );
    for (const template of ['base', 'bench-image-base']) {
      const times: number[] = [];
      for (let i = 0; i < CREATES + 1; i++) {
        const ms = await timed(async () => {
          const sbx = await Sandbox.create({ ...conn, template });
          await sbx.commands.run('echo ok');
          await sbx.kill();
        });
        if (i > 0) times.push(ms); // the first warms caches
      }
      rows.push([
        `create → first command (+kill)`,
        template,
        fmtMs(percentile(times, 50)),
        fmtMs(percentile(times, 95)),
        'equal',
      ]);
      result[`create-${template}`] = times;
    }
    await Template.remove('bench-image-base', conn);
  });
} finally {
  await registry.close();
  await rm(work, { recursive: true, force: true });
}
printTable(rows, ['measure', 'what', 'p50', 'max/p95', 'goal']);
saveResult('images.json', result);
