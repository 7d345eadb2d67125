/**
 * Makes OCI images offline for tests and benchmarks: layers written with tar-stream, gzip by
 * zlib, zstd by the `zstd` CLI, the JSON documents by hand. Every helper returns an OCI layout
 * directory (or a tarball) that skopeo, umoci and our own unpacker read.
 *
 * Usage:
 *   const image = await makeImage({ layers: [{ entries: [{ path: 'etc/motd', type: 'file', data: 'hi' }] }] });
 *   // image.layoutDir holds index.json with `org.opencontainers.image.ref.name` = image.tag
 *   await image.cleanup();
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';

const run = promisify(execFile);

export interface LayerEntry {
  /** Path inside the image, without a leading slash (`etc/motd`, `.wh.old`). */
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink';
  data?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Target of a symlink, or the path (inside the image) a hardlink points to. */
  linkname?: string;
}

export interface LayerSpec {
  entries: LayerEntry[];
  compression?: 'gzip' | 'zstd' | 'none';
}

export interface ImageConfigSpec {
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  Entrypoint?: string[];
  Cmd?: string[];
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface MadeImage {
  layoutDir: string;
  /** The `ref.name` of the image in index.json. */
  tag: string;
  manifestDigest: string;
  configDigest: string;
  layers: { digest: string; mediaType: string; size: number; diffId: string }[];
  cleanup(): Promise<void>;
}

export interface BlobRef {
  mediaType: string;
  digest: string;
  size: number;
}

const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  none: 'application/vnd.oci.image.layer.v1.tar',
} as const;

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Writes a tar of the entries in order (a hardlink must follow its target). */
export async function tarEntries(entries: readonly LayerEntry[]): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  const mtime = new Date(0);
  for (const entry of entries) {
    const base = { name: entry.path, uid: entry.uid ?? 0, gid: entry.gid ?? 0, mtime };
    if (entry.type === 'file') {
      const data = typeof entry.data === 'string' ? Buffer.from(entry.data) : (entry.data ?? Buffer.alloc(0));
      pack.entry({ ...base, type: 'file', mode: entry.mode ?? 0o644, size: data.length }, data);
    } else if (entry.type === 'dir') {
      pack.entry({ ...base, type: 'directory', mode: entry.mode ?? 0o755 });
    } else {
      pack.entry({
        ...base,
        type: entry.type === 'symlink' ? 'symlink' : 'link',
        mode: entry.mode ?? 0o777,
        linkname: entry.linkname ?? '',
      });
    }
  }
  pack.finalize();
  return done;
}

/** Runs the `zstd` CLI over `data` through temp files (Node 20 has no zstd of its own). */
async function zstd(args: string[], data: Buffer): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'paddock-zstd-'));
  try {
    await writeFile(join(dir, 'in'), data);
    await run('zstd', [...args, join(dir, 'in'), '-o', join(dir, 'out')]);
    return await readFile(join(dir, 'out'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function compress(tar: Buffer, compression: LayerSpec['compression']): Promise<Buffer> {
  if (compression === 'none') return tar;
  if (compression === 'zstd') return zstd(['-q', '-3'], tar);
  return gzipSync(tar, { level: 1 });
}

async function writeBlob(layoutDir: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  await writeFile(join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length)), data);
  return digest;
}

async function newLayout(): Promise<string> {
  const layoutDir = await mkdtemp(join(tmpdir(), 'paddock-oci-image-'));
  await mkdir(join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  return layoutDir;
}

async function writeIndex(
  layoutDir: string,
  options: { tag: string; top: BlobRef; platform?: Platform },
): Promise<void> {
  const descriptor = {
    ...options.top,
    ...(options.platform === undefined ? {} : { platform: options.platform }),
    annotations: { 'org.opencontainers.image.ref.name': options.tag },
  };
  await writeFile(join(layoutDir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [descriptor] }));
}

/** Writes layers, config and manifest into an existing layout; returns the manifest's descriptor. */
async function writeImageBlobs(
  layoutDir: string,
  options: { layers: readonly LayerSpec[]; config?: ImageConfigSpec; platform?: Platform },
): Promise<{ manifest: BlobRef; configDigest: string; layers: MadeImage['layers'] }> {
  const layers: MadeImage['layers'] = [];
  for (const layer of options.layers) {
    const tar = await tarEntries(layer.entries);
    const compression = layer.compression ?? 'gzip';
    const blob = await compress(tar, compression);
    const digest = await writeBlob(layoutDir, blob);
    layers.push({ digest, mediaType: MEDIA[compression], size: blob.length, diffId: sha256(tar) });
  }
  const platform = options.platform ?? { architecture: 'amd64', os: 'linux' };
  const config = Buffer.from(
    JSON.stringify({
      created: '2026-01-01T00:00:00Z',
      ...platform,
      config: options.config ?? {},
      rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
      history: layers.map(() => ({ created: '2026-01-01T00:00:00Z', created_by: 'paddock oci-image-maker' })),
    }),
  );
  return { ...(await writeConfigAndManifest(layoutDir, config, layers)), layers };
}

/** Writes an image's config blob and its manifest (over `layers`); returns their descriptors. */
async function writeConfigAndManifest(
  layoutDir: string,
  config: Buffer,
  layers: readonly BlobRef[],
): Promise<{ manifest: BlobRef; configDigest: string }> {
  const configDigest = await writeBlob(layoutDir, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.config, digest: configDigest, size: config.length },
      layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    }),
  );
  const manifestDigest = await writeBlob(layoutDir, manifest);
  return { manifest: { mediaType: MEDIA.manifest, digest: manifestDigest, size: manifest.length }, configDigest };
}

function cleanupOf(path: string): () => Promise<void> {
  return () => rm(path, { recursive: true, force: true });
}

/** One single-platform image (linux/amd64 unless `platform` says otherwise) in a new OCI layout. */
export async function makeImage(options: {
  layers: readonly LayerSpec[];
  config?: ImageConfigSpec;
  platform?: Platform;
  tag?: string;
}): Promise<MadeImage> {
  const layoutDir = await newLayout();
  const tag = options.tag ?? 'latest';
  const { manifest, configDigest, layers } = await writeImageBlobs(layoutDir, options);
  await writeIndex(layoutDir, { tag, top: manifest });
  return { layoutDir, tag, manifestDigest: manifest.digest, configDigest, layers, cleanup: cleanupOf(layoutDir) };
}

export interface MultiArchImage {
  layoutDir: string;
  tag: string;
  indexDigest: string;
  /** Manifest digest per architecture (`amd64`, `arm64`). */
  manifests: Record<string, string>;
  cleanup(): Promise<void>;
}

/**
 * An image index with one linux manifest per architecture; each gets a file `arch` holding its
 * architecture's name, so a test can tell which one was picked.
 */
export async function makeMultiArchImage(
  options: { architectures?: string[]; tag?: string } = {},
): Promise<MultiArchImage> {
  const layoutDir = await newLayout();
  const tag = options.tag ?? 'latest';
  const manifests: Record<string, string> = {};
  const descriptors: (BlobRef & { platform: Platform })[] = [];
  for (const architecture of options.architectures ?? ['amd64', 'arm64']) {
    const platform = { architecture, os: 'linux' };
    const { manifest } = await writeImageBlobs(layoutDir, {
      layers: [{ entries: [{ path: 'arch', type: 'file', data: architecture }] }],
      platform,
    });
    manifests[architecture] = manifest.digest;
    descriptors.push({ ...manifest, platform });
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests: descriptors }));
  const indexDigest = await writeBlob(layoutDir, index);
  await writeIndex(layoutDir, { tag, top: { mediaType: MEDIA.index, digest: indexDigest, size: index.length } });
  return { layoutDir, tag, indexDigest, manifests, cleanup: cleanupOf(layoutDir) };
}

/** Two layers: the first makes `x`, `keep` and `dir/{a,b}`; the second deletes `x` and makes `dir` opaque. */
export function whiteoutLayers(): LayerSpec[] {
  return [
    {
      entries: [
        { path: 'x', type: 'file', data: 'gone' },
        { path: 'keep', type: 'file', data: 'kept' },
        { path: 'dir', type: 'dir' },
        { path: 'dir/a', type: 'file', data: 'a' },
        { path: 'dir/b', type: 'file', data: 'b' },
      ],
    },
    {
      entries: [
        { path: '.wh.x', type: 'file' },
        { path: 'dir', type: 'dir' },
        { path: 'dir/.wh..wh..opq', type: 'file' },
        { path: 'dir/c', type: 'file', data: 'c' },
      ],
    },
  ];
}

/**
 * Packs an OCI layout as a `docker save` tarball (manifest.json, repositories, `<hex>/layer.tar`
 * with the layers uncompressed, `<hex>.json` config), which skopeo reads as `docker-archive:`.
 */
export async function toDockerArchive(image: MadeImage, options: { repoTag: string; path: string }): Promise<void> {
  const blob = (digest: string): Promise<Buffer> => readFile(join(image.layoutDir, 'blobs', 'sha256', digest.slice(7)));
  const configHex = image.configDigest.slice(7);
  const layerFiles: LayerEntry[] = [];
  const layerPaths: string[] = [];
  for (const layer of image.layers) {
    const data = await decompress(await blob(layer.digest), layer.mediaType);
    const name = `${layer.diffId.slice(7)}/layer.tar`;
    layerPaths.push(name);
    layerFiles.push({ path: layer.diffId.slice(7), type: 'dir' }, { path: name, type: 'file', data });
  }
  const [repo, tag = 'latest'] = splitRepoTag(options.repoTag);
  const entries: LayerEntry[] = [
    { path: `${configHex}.json`, type: 'file', data: await blob(image.configDigest) },
    ...layerFiles,
    {
      path: 'manifest.json',
      type: 'file',
      data: JSON.stringify([{ Config: `${configHex}.json`, RepoTags: [options.repoTag], Layers: layerPaths }]),
    },
    {
      path: 'repositories',
      type: 'file',
      data: JSON.stringify({ [repo]: { [tag]: image.layers.at(-1)?.diffId.slice(7) ?? '' } }),
    },
  ];
  await writeFile(options.path, await tarEntries(entries));
}

function splitRepoTag(repoTag: string): [string, string | undefined] {
  const colon = repoTag.lastIndexOf(':');
  return colon > repoTag.lastIndexOf('/') ? [repoTag.slice(0, colon), repoTag.slice(colon + 1)] : [repoTag, undefined];
}

async function decompress(data: Buffer, mediaType: string): Promise<Buffer> {
  if (mediaType.endsWith('+gzip')) return gunzipSync(data);
  if (mediaType.endsWith('+zstd')) return zstd(['-q', '-d'], data);
  return data;
}

/** Packs an OCI layout directory as a tar (what skopeo reads as `oci-archive:`). */
export async function toOciArchive(layoutDir: string, path: string): Promise<void> {
  await run('tar', ['-cf', path, '-C', layoutDir, '.']);
}

/**
 * An image of one gzip layer made from a directory tree on the host. Files of a prebuilt
 * template are owned by uid/gid + `idShift` on the host (the user namespace's shift), which
 * the tar headers take off again. `padBytes` adds files of random bytes (`paddock-pad/NNN`,
 * 64 MiB each at most) so the image reaches a given size (benchmarks).
 */
export async function makeImageFromTree(options: {
  root: string;
  idShift?: number;
  padBytes?: number;
  config?: ImageConfigSpec;
  tag?: string;
}): Promise<MadeImage> {
  const shift = options.idShift ?? 0;
  const layoutDir = await newLayout();
  const tarPath = join(layoutDir, 'layer.tar');
  const pack = tarPack();
  const out = createWriteStream(tarPath);
  const finished = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
    pack.on('error', reject);
  });
  pack.pipe(out);
  const entry = (header: Parameters<typeof pack.entry>[0], body?: Buffer | NodeJS.ReadableStream): Promise<void> =>
    new Promise((resolve, reject) => {
      if (body === undefined || Buffer.isBuffer(body)) {
        pack.entry(header, body ?? Buffer.alloc(0), (error) => (error ? reject(error) : resolve()));
        return;
      }
      const sink = pack.entry(header, (error) => (error ? reject(error) : resolve()));
      body.pipe(sink);
    });
  const seen = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const full = join(dir, name);
      const rel = relative(options.root, full);
      const st = await lstat(full);
      const base = {
        name: rel,
        mode: st.mode & 0o7777,
        uid: Math.max(0, st.uid - shift),
        gid: Math.max(0, st.gid - shift),
        mtime: st.mtime,
      };
      if (st.isDirectory()) {
        await entry({ ...base, type: 'directory' });
        await walk(full);
      } else if (st.isSymbolicLink()) {
        await entry({ ...base, type: 'symlink', linkname: await readlink(full) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? seen.get(key) : undefined;
        if (first !== undefined) {
          await entry({ ...base, type: 'link', linkname: first });
        } else {
          if (st.nlink > 1) seen.set(key, rel);
          await entry({ ...base, type: 'file', size: st.size }, createReadStream(full));
        }
      }
      // Device nodes, sockets and fifos are left out: images rarely carry them.
    }
  };
  await walk(options.root);
  let left = options.padBytes ?? 0;
  if (left > 0) await entry({ name: 'paddock-pad', type: 'directory', mode: 0o755 });
  for (let i = 0; left > 0; i++) {
    const size = Math.min(left, 64 << 20);
    await entry(
      { name: `paddock-pad/${String(i).padStart(3, '0')}`, type: 'file', mode: 0o644, size },
      randomBytes(size),
    );
    left -= size;
  }
  pack.finalize();
  await finished;
  // gzip through the CLI: streaming keeps a 1 GiB layer out of memory.
  await run('sh', ['-c', 'gzip -1 -n < "$1" > "$1.gz"', 'sh', tarPath], { maxBuffer: 1 << 20 });
  const diffId = await fileDigest(tarPath);
  const layerDigest = await fileDigest(`${tarPath}.gz`);
  const { size } = await lstat(`${tarPath}.gz`);
  await rename(`${tarPath}.gz`, join(layoutDir, 'blobs', 'sha256', layerDigest.slice(7)));
  await rm(tarPath);
  const layers = [{ digest: layerDigest, mediaType: MEDIA.gzip, size, diffId }];
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: options.config ?? {},
      rootfs: { type: 'layers', diff_ids: [diffId] },
    }),
  );
  const { manifest, configDigest } = await writeConfigAndManifest(layoutDir, config, layers);
  const tag = options.tag ?? 'latest';
  await writeIndex(layoutDir, { tag, top: manifest });
  return { layoutDir, tag, manifestDigest: manifest.digest, configDigest, layers, cleanup: cleanupOf(layoutDir) };
}

function fileDigest(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(`sha256:${hash.digest('hex')}`))
      .on('error', reject);
  });
}
