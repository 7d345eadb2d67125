/**
 * Image unpack benchmark. Run: `npm run bench:unpack` (root; after set-up).
 * Makes a three-layer gzip OCI image from a built template's rootfs (default `base`;
 * `BENCH_TEMPLATE=code-interpreter` for a ~1.5 GB one), with the ids in the tar headers
 * unshifted back to 0..65535, then times on the same layout: `skopeo copy oci:→oci:` (the
 * transfer both paths share), `umoci unpack` (the field's unpacker), our `unpackImage`, and the
 * floor `tar -xzf` of each layer. Prints a markdown table with the ratios; everything lives in
 * a temp dir that is removed at the end.
 */
import { execFileSync } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  type Stats,
} from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { UID_BASE, UID_COUNT } from '../packages/server/src/runtime/uid-map.js';
import { BUILTIN_SPECS_DIR } from '../packages/server/src/templates/builtin.js';
import { readStoredImage } from '../packages/server/src/templates/images/oci-layout.js';
import { unpackImage } from '../packages/server/src/templates/images/unpack-image.js';
import { parseTemplateSpec, specHash } from '../packages/server/src/templates/spec.js';
import { LAYER_TYPES, type MadeLayer, storeManifest, tagInLayout } from '../test/support/oci-image.js';
import { printTable, saveResult } from './stats.js';

const DATA_DIR = process.env.PADDOCK_BENCH_DATA_DIR ?? '/var/tmp/paddock-test/data';
const TEMPLATE = process.env.BENCH_TEMPLATE ?? 'base';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SMALL_FILE_BYTES = 1024 * 1024;

/** Splits the tree the way images often are: a base, then `usr` without `usr/lib`, then `usr/lib`. */
const LAYERS: { root: string; exclude: string[] }[] = [
  { root: '', exclude: ['usr'] },
  { root: 'usr', exclude: ['usr/lib'] },
  { root: 'usr/lib', exclude: [] },
];

class HashTap extends Transform {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _e: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void) {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

const unshift = (id: number) => (id >= UID_BASE && id < UID_BASE + UID_COUNT ? id - UID_BASE : id);

/** Adds one filesystem object to the tar; hard links point to the first path of their inode. */
async function addEntry(pack: tar.Pack, ctx: { src: string; rel: string; st: Stats; inodes: Map<number, string> }) {
  const { st, rel } = ctx;
  const base = { name: rel, mode: st.mode & 0o7777, uid: unshift(st.uid), gid: unshift(st.gid), mtime: st.mtime };
  const add = (header: tar.Header | Partial<tar.Header>, body?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body === undefined) pack.entry({ ...base, ...header }, cb);
      else pack.entry({ ...base, ...header }, body, cb);
    });
  if (st.isDirectory()) return add({ type: 'directory' });
  if (st.isSymbolicLink()) return add({ type: 'symlink', linkname: readlinkSync(join(ctx.src, rel)) });
  if (!st.isFile()) return; // devices, fifos, sockets: sandboxes get their own /dev
  const first = st.nlink > 1 ? ctx.inodes.get(st.ino) : undefined;
  if (first !== undefined) return add({ type: 'link', linkname: first });
  if (st.nlink > 1) ctx.inodes.set(st.ino, rel);
  if (st.size < SMALL_FILE_BYTES) return add({ type: 'file', size: st.size }, readFileSync(join(ctx.src, rel)));
  await new Promise<void>((resolve, reject) => {
    const sink = pack.entry({ ...base, type: 'file', size: st.size }, (err) => (err ? reject(err) : resolve()));
    createReadStream(join(ctx.src, rel)).pipe(sink as unknown as NodeJS.WritableStream);
  });
}

async function packTree(pack: tar.Pack, src: string, layer: (typeof LAYERS)[number], inodes: Map<number, string>) {
  // The layer's root and its parents first, as image builders write them.
  const parts = layer.root === '' ? [] : layer.root.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const rel = parts.slice(0, i).join('/');
    await addEntry(pack, { src, rel, st: lstatSync(join(src, rel)), inodes });
  }
  const walk = async (rel: string): Promise<void> => {
    for (const name of readdirSync(join(src, rel)).sort()) {
      const child = rel === '' ? name : `${rel}/${name}`;
      if (layer.exclude.includes(child)) continue;
      const st = lstatSync(join(src, child));
      await addEntry(pack, { src, rel: child, st, inodes });
      if (st.isDirectory()) await walk(child);
    }
  };
  await walk(layer.root);
  pack.finalize();
}

/** Writes one gzip layer blob from part of `src`, hashing the tar (diff_id) and the blob. */
async function makeLayer(layout: string, src: string, layer: (typeof LAYERS)[number], inodes: Map<number, string>) {
  const pack = tar.pack();
  const diff = new HashTap();
  const blob = new HashTap();
  const tmp = join(layout, `layer-${Date.now()}.tmp`);
  await Promise.all([
    packTree(pack, src, layer, inodes),
    pipeline(pack, diff, createGzip(), blob, createWriteStream(tmp)),
  ]);
  const hex = blob.hash.digest('hex');
  renameSync(tmp, join(layout, 'blobs', 'sha256', hex));
  const made: MadeLayer = {
    digest: `sha256:${hex}`,
    size: blob.bytes,
    diffId: `sha256:${diff.hash.digest('hex')}`,
    mediaType: LAYER_TYPES.gzip,
  };
  return { made, tarBytes: diff.bytes };
}

/** Every path of a tree with what must match between two unpacks (owners unshifted). */
function describeTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel))) {
      const child = rel === '' ? name : `${rel}/${name}`;
      const abs = join(root, child);
      const st = lstatSync(abs);
      const kind = st.isDirectory() ? 'd' : st.isSymbolicLink() ? `l:${readlinkSync(abs)}` : st.isFile() ? 'f' : 'x';
      const body = st.isFile() ? createHash('sha1').update(readFileSync(abs)).digest('hex') : '';
      const mtime = st.isDirectory() ? '' : Math.floor(st.mtimeMs / 1000);
      out.set(child, `${kind} ${st.mode & 0o7777} ${unshift(st.uid)}:${unshift(st.gid)} ${mtime} ${body}`);
      if (st.isDirectory()) walk(child);
    }
  };
  walk('');
  return out;
}

/** Differences between our tree and umoci's (device nodes, which we skip, aside). */
function compareTrees(ours: string, theirs: string): string[] {
  const a = describeTree(ours);
  const b = describeTree(theirs);
  const diffs: string[] = [];
  for (const [path, what] of b) {
    if (what.startsWith('x')) continue;
    if (a.get(path) !== what) diffs.push(`${path}: ours ${a.get(path) ?? 'missing'}, umoci ${what}`);
  }
  for (const path of a.keys()) if (!b.has(path)) diffs.push(`${path}: only ours`);
  return diffs;
}

function time(fn: () => unknown): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the unpack chowns to shifted ids');
  const spec = parseTemplateSpec(readFileSync(join(BUILTIN_SPECS_DIR, `${TEMPLATE}.yaml`), 'utf8'));
  const src = join(DATA_DIR, 'templates', specHash(spec), 'rootfs');
  const work = mkdtempSync('/var/tmp/paddock-bench-unpack-');
  try {
    const layout = join(work, 'layout');
    mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
    console.log(`making a ${LAYERS.length}-layer gzip image from ${src} …`);
    const inodes = new Map<number, string>();
    const made: MadeLayer[] = [];
    let tarBytes = 0;
    const makeMs = await timeAsync(async () => {
      for (const layer of LAYERS) {
        const out = await makeLayer(layout, src, layer, inodes);
        made.push(out.made);
        tarBytes += out.tarBytes;
      }
    });
    const manifest = storeManifest(layout, { layers: made });
    tagInLayout(layout, { ...manifest, tag: 'bench' });
    const blobBytes = made.reduce((s, l) => s + l.size, 0);
    console.log(
      `image: ${(tarBytes / 2 ** 20).toFixed(0)} MiB of tar, ${(blobBytes / 2 ** 20).toFixed(0)} MiB gzip, made in ${sec(makeMs)}`,
    );
    const image = readStoredImage(layout, manifest.digest);
    const results = { copy: [] as number[], umoci: [] as number[], ours: [] as number[], tar: [] as number[] };
    for (let run = 0; run < RUNS; run++) {
      const copyDir = join(work, `copy-${run}`);
      results.copy.push(
        time(() => execFileSync('skopeo', ['copy', '-q', `oci:${layout}:bench`, `oci:${copyDir}:bench`])),
      );
      rmSync(copyDir, { recursive: true, force: true });
      const bundle = join(work, `umoci-${run}`);
      results.umoci.push(time(() => execFileSync('umoci', ['unpack', '--image', `${layout}:bench`, bundle])));
      const ours = join(work, `ours-${run}`);
      mkdirSync(ours);
      results.ours.push(
        await timeAsync(() =>
          unpackImage({ layoutDir: layout, image, target: ours, idShift: { base: UID_BASE, count: UID_COUNT } }),
        ),
      );
      if (run === 0) {
        const diffs = compareTrees(ours, join(bundle, 'rootfs'));
        console.log(
          `ours vs umoci: ${diffs.length} differences${diffs.length ? `:\n  ${diffs.slice(0, 20).join('\n  ')}` : ''}`,
        );
      }
      rmSync(bundle, { recursive: true, force: true });
      rmSync(ours, { recursive: true, force: true });
      const floor = join(work, `tar-${run}`);
      mkdirSync(floor);
      results.tar.push(
        time(() => {
          for (const l of made) {
            execFileSync('tar', ['-xzf', join(layout, 'blobs', 'sha256', l.digest.slice(7)), '-C', floor]);
          }
        }),
      );
      rmSync(floor, { recursive: true, force: true });
    }
    const [copy, umoci, ours, floor] = [results.copy, results.umoci, results.ours, results.tar].map(median) as [
      number,
      number,
      number,
      number,
    ];
    printTable(
      [
        ['skopeo copy oci:→oci: (transfer, shared)', sec(copy), ''],
        ['umoci unpack', sec(umoci), '1.00×'],
        ['unpackImage (ours, uid-shifted)', sec(ours), `${(ours / umoci).toFixed(2)}×`],
        ['tar -xzf per layer (floor, no whiteouts/shift)', sec(floor), `${(floor / umoci).toFixed(2)}×`],
        ['skopeo + umoci', sec(copy + umoci), '1.00×'],
        ['skopeo + ours (goal ≤ 1.2×)', sec(copy + ours), `${((copy + ours) / (copy + umoci)).toFixed(2)}×`],
      ],
      [`${TEMPLATE}: median of ${RUNS}`, 'time', 'ratio'],
    );
    saveResult(`unpack-${Date.now()}.json`, { template: TEMPLATE, tarBytes, blobBytes, runs: results });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
