/**
 * A small maker of OCI image layouts for tests: tar layers built with tar-stream, compressed
 * with node zlib (gzip) or the `zstd` CLI, stored as blobs with a config, a manifest and an
 * `index.json` entry.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export interface LayerEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'fifo' | 'character-device';
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  mtime?: Date;
  pax?: Record<string, string>;
}

export type Compression = 'gzip' | 'zstd' | 'none';

export const LAYER_TYPES = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  none: 'application/vnd.oci.image.layer.v1.tar',
  dockerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** The bytes of an uncompressed tar holding `entries` in order. */
export async function tarLayer(entries: readonly LayerEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const e of entries) {
    const type = e.type ?? (e.name.endsWith('/') ? 'directory' : 'file');
    const content = e.content === undefined ? Buffer.alloc(0) : Buffer.from(e.content);
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? new Date('2024-01-02T03:04:05Z'),
      linkname: e.linkname ?? '',
      ...(e.pax === undefined ? {} : { pax: e.pax }),
    };
    await new Promise<void>((resolve, reject) => {
      pack.entry(
        type === 'file' ? { ...header, size: content.length } : header,
        type === 'file' ? content : '',
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export function compress(data: Buffer, kind: Compression): Buffer {
  if (kind === 'gzip') return gzipSync(data);
  if (kind === 'zstd') return execFileSync('zstd', ['-q', '-c'], { input: data, maxBuffer: 1 << 30 });
  return data;
}

export function digestOf(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Stores `data` as a blob of the layout and returns its digest. */
export function writeBlob(layoutDir: string, data: Buffer | string): string {
  const bytes = Buffer.from(data);
  const digest = digestOf(bytes);
  const dir = join(layoutDir, 'blobs', 'sha256');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, digest.slice(7)), bytes);
  return digest;
}

export interface MadeLayer {
  /** The (compressed) blob's digest and size, and the tar's own digest. */
  digest: string;
  size: number;
  diffId: string;
  mediaType: string;
}

/** Compresses a tar (as its media type says, unless `kind` is given), stores it, and says what a manifest needs of it. */
export function storeLayer(
  layoutDir: string,
  tarBytes: Buffer,
  mediaType: string,
  compression?: Compression,
): MadeLayer {
  const kind: Compression =
    compression ?? (mediaType.endsWith('zstd') ? 'zstd' : mediaType.endsWith('tar') ? 'none' : 'gzip');
  const blob = compress(tarBytes, kind);
  return { digest: writeBlob(layoutDir, blob), size: blob.length, diffId: digestOf(tarBytes), mediaType };
}

export interface ImageDocs {
  layers: readonly MadeLayer[];
  config?: Record<string, unknown>;
  /** Docker schema2 media types for the manifest and config instead of OCI's. */
  docker?: boolean;
}

/** Stores a config and a manifest for `layers`; returns the manifest's digest and size. */
export function storeManifest(layoutDir: string, docs: ImageDocs): { digest: string; size: number; mediaType: string } {
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: docs.config ?? {},
    rootfs: { type: 'layers', diff_ids: docs.layers.map((l) => l.diffId) },
  });
  const configDigest = writeBlob(layoutDir, config);
  const mediaType = docs.docker
    ? 'application/vnd.docker.distribution.manifest.v2+json'
    : 'application/vnd.oci.image.manifest.v1+json';
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType,
    config: {
      mediaType: docs.docker
        ? 'application/vnd.docker.container.image.v1+json'
        : 'application/vnd.oci.image.config.v1+json',
      digest: configDigest,
      size: Buffer.byteLength(config),
    },
    layers: docs.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  });
  return { digest: writeBlob(layoutDir, manifest), size: Buffer.byteLength(manifest), mediaType };
}

/** Adds (or replaces) an `index.json` entry tagging `digest` as `tag`. */
export function tagInLayout(
  layoutDir: string,
  entry: { digest: string; size: number; mediaType: string; tag: string },
) {
  mkdirSync(layoutDir, { recursive: true });
  writeFileSync(join(layoutDir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const path = join(layoutDir, 'index.json');
  let index: { schemaVersion: 2; manifests: Record<string, unknown>[] } = { schemaVersion: 2, manifests: [] };
  try {
    index = JSON.parse(readFileSync(path, 'utf8'));
  } catch {}
  const ref = 'org.opencontainers.image.ref.name';
  index.manifests = index.manifests.filter((m) => (m.annotations as Record<string, string>)?.[ref] !== entry.tag);
  index.manifests.push({
    mediaType: entry.mediaType,
    digest: entry.digest,
    size: entry.size,
    annotations: { [ref]: entry.tag },
  });
  writeFileSync(path, JSON.stringify(index));
}

/** One image from layer tars: store layers, config, manifest, tag. Returns the manifest digest. */
export async function makeImage(
  layoutDir: string,
  layers: readonly { entries: readonly LayerEntry[]; mediaType?: string; compression?: Compression }[],
  options: { tag?: string; config?: Record<string, unknown> } = {},
): Promise<string> {
  const made: MadeLayer[] = [];
  for (const l of layers) {
    made.push(storeLayer(layoutDir, await tarLayer(l.entries), l.mediaType ?? LAYER_TYPES.gzip, l.compression));
  }
  const manifest = storeManifest(layoutDir, { layers: made, ...(options.config ? { config: options.config } : {}) });
  tagInLayout(layoutDir, { ...manifest, tag: options.tag ?? 'latest' });
  return manifest.digest;
}
