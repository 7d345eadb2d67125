import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TemplateBuildEvent } from '@paddock/protocol';
import type { DataPaths } from '../paths.js';
import { imageLayoutDir, unpackForSandboxes } from './image-template.js';
import { withPulledImage } from './images/image-gc.js';
import type { ImageConfig } from './images/image-types.js';
import { readStoredImage } from './images/oci-layout.js';
import { copyIntoLayout } from './images/skopeo-copy.js';
import { removeTree } from './layout.js';
import type { BuildBase } from './plan.js';

/** An image unpacked once as a read-only base that build steps layer over. */
export interface UnpackedImage {
  rootfs: string;
  config: ImageConfig;
  /** The manifest digest: what the steps above it are cached by. */
  key: string;
}

/** Where unpacked image bases live: `<images>/unpacked/<digest hex>/{rootfs,config.json}`. */
export function unpackedImagesDir(paths: DataPaths): string {
  return join(paths.images, 'unpacked');
}

/**
 * The base of a Dockerfile `FROM image` (or E2B's `fromImage`): pulled into the shared layout
 * (a tag is resolved on every build, like `docker build --pull`; unchanged layers are not
 * fetched again) and unpacked once per manifest digest, uid-shifted, published by rename so a
 * half-unpacked base is never used.
 */
export async function resolveImageBase(options: {
  paths: DataPaths;
  base: Extract<BuildBase, { kind: 'image' }>;
  signal: AbortSignal;
  emit?: (event: TemplateBuildEvent) => void;
}): Promise<UnpackedImage> {
  const { paths, base, signal } = options;
  const emit = options.emit ?? (() => {});
  const layoutDir = imageLayoutDir(paths);
  emit({ type: 'progress', step: 'pull', message: `fetching ${base.ref}` });
  // From the pull until unpacked (then the unpacked dir keeps it), GC stays off its blobs.
  return withPulledImage(
    async () => {
      const { manifestDigest } = await copyIntoLayout({
        source: {
          kind: 'registry',
          ref: base.ref,
          ...(base.insecure ? { insecure: true } : {}),
          ...(base.credentials ? { credentials: base.credentials } : {}),
          ...(base.authFile ? { authFile: base.authFile } : {}),
        },
        layoutDir,
        signal,
        onProgress: (p) =>
          emit({ type: 'progress', step: 'pull', message: `pulled ${p.layersDone}/${p.layersTotal} layer(s)`, ...p }),
      });
      return manifestDigest;
    },
    (manifestDigest) => unpackedBase({ paths, manifestDigest, signal, emit }),
  );
}

/** The unpacked base of a pulled image: made once per digest, published by rename. */
async function unpackedBase(options: {
  paths: DataPaths;
  manifestDigest: string;
  signal: AbortSignal;
  emit: (event: TemplateBuildEvent) => void;
}): Promise<UnpackedImage> {
  const { paths, manifestDigest, signal, emit } = options;
  const layoutDir = imageLayoutDir(paths);
  const dir = join(unpackedImagesDir(paths), manifestDigest.replace(/^sha256:/, ''));
  const rootfs = join(dir, 'rootfs');
  const known = await readConfig(dir);
  if (known !== undefined) return { rootfs, config: known, key: manifestDigest };
  const image = readStoredImage(layoutDir, manifestDigest);
  const scratch = `${dir}.tmp-${randomBytes(6).toString('hex')}`;
  await mkdir(join(scratch, 'rootfs'), { recursive: true, mode: 0o755 });
  try {
    await unpackForSandboxes({
      layoutDir,
      image,
      target: join(scratch, 'rootfs'),
      signal,
      onProgress: (p) =>
        emit({
          type: 'progress',
          step: 'unpack',
          message: `unpacked ${p.layersDone}/${p.layersTotal} layer(s)`,
          ...p,
        }),
    });
    await writeFile(join(scratch, 'config.json'), JSON.stringify(image.config));
    // Another build may have unpacked the same digest meanwhile; its copy is as good.
    if ((await readConfig(dir)) === undefined) {
      await removeTree(dir);
      await rename(scratch, dir);
    } else await removeTree(scratch);
  } catch (err) {
    await removeTree(scratch);
    throw err;
  }
  return { rootfs, config: image.config, key: manifestDigest };
}

async function readConfig(dir: string): Promise<ImageConfig | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as ImageConfig;
  } catch {
    return undefined;
  }
}

/** Digests of the unpacked bases (their blobs stay in the layout while they exist). */
export async function unpackedImageDigests(paths: DataPaths): Promise<string[]> {
  const names = await readdir(unpackedImagesDir(paths)).catch(() => [] as string[]);
  return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}`);
}
