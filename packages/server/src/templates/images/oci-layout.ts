import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PaddockError } from '@paddock/protocol';
import { z } from 'zod';
import type { ImageConfig, StoredImage } from './image-types.js';

/** A digest as a blob's name: sha256 only, so that a digest can never become a path like `../x`. */
const DIGEST = /^sha256:[0-9a-f]{64}$/;

const Descriptor = z.object({
  mediaType: z.string().optional(),
  digest: z.string().regex(DIGEST, 'not a sha256 digest'),
  size: z.number().int().nonnegative(),
  platform: z.object({ os: z.string(), architecture: z.string(), variant: z.string().optional() }).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

/** An OCI index or a Docker manifest list (the same shape). */
const Index = z.object({ manifests: z.array(Descriptor) });
/** An OCI image manifest or a Docker schema 2 manifest (the same shape). */
const Manifest = z.object({ config: Descriptor, layers: z.array(Descriptor) });

const Config = z.object({
  config: z
    .object({
      Env: z.array(z.string()).nullish(),
      WorkingDir: z.string().nullish(),
      User: z.string().nullish(),
      Entrypoint: z.array(z.string()).nullish(),
      Cmd: z.array(z.string()).nullish(),
    })
    .nullish(),
  rootfs: z.object({ diff_ids: z.array(z.string()) }),
});

/** Layer media types we unpack, OCI's and Docker's. */
export const LAYER_MEDIA_TYPES = {
  'application/vnd.oci.image.layer.v1.tar': 'none',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd': 'zstd',
  'application/vnd.docker.image.rootfs.diff.tar': 'none',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.diff.tar.zstd': 'zstd',
  // Non-distributable ("foreign") layers are ordinary tars too, when present.
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': 'gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'gzip',
} as const satisfies Record<string, 'none' | 'gzip' | 'zstd'>;

export type LayerCompression = (typeof LAYER_MEDIA_TYPES)[keyof typeof LAYER_MEDIA_TYPES];

/** The path of a blob in an OCI layout; throws for anything but a sha256 digest. */
export function blobPath(layoutDir: string, digest: string): string {
  if (!DIGEST.test(digest)) throw new PaddockError('INVALID_ARGUMENT', `not a sha256 digest: "${digest}"`);
  return join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

async function readJsonBlob<T>(layoutDir: string, digest: string, schema: z.ZodType<T>, what: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(blobPath(layoutDir, digest), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PaddockError('NOT_FOUND', `the image's ${what} ${digest} is not in the image store`, { digest });
    }
    throw err;
  }
  const parsed = schema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PaddockError(
      'INVALID_ARGUMENT',
      `the image's ${what} ${digest} is malformed: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
      { digest },
    );
  }
  return parsed.data;
}

/**
 * Reads an image from the layout by digest: a manifest, or an index (manifest list) from which
 * linux/amd64 is taken. Layers keep their order, bottom first.
 */
export async function readStoredImage(layoutDir: string, digest: string): Promise<StoredImage> {
  const raw = await readJsonBlob(layoutDir, digest, z.union([Manifest, Index]), 'manifest');
  let manifestDigest = digest;
  let manifest: z.infer<typeof Manifest>;
  if ('manifests' in raw) {
    const amd64 = raw.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64');
    if (amd64 === undefined) {
      const platforms = raw.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).join(', ');
      throw new PaddockError('INVALID_ARGUMENT', `the image has no linux/amd64 variant (it has: ${platforms})`, {
        digest,
      });
    }
    manifestDigest = amd64.digest;
    manifest = await readJsonBlob(layoutDir, amd64.digest, Manifest, 'manifest');
  } else {
    manifest = raw;
  }
  const config = await readJsonBlob(layoutDir, manifest.config.digest, Config, 'config');
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new PaddockError(
      'INVALID_ARGUMENT',
      `the image's config lists ${config.rootfs.diff_ids.length} layer(s), its manifest ${manifest.layers.length}`,
      { digest: manifestDigest },
    );
  }
  return {
    manifestDigest,
    configDigest: manifest.config.digest,
    layers: manifest.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType ?? '', size: l.size })),
    diffIds: config.rootfs.diff_ids,
    config: imageConfigOf(config.config ?? {}),
  };
}

function imageConfigOf(c: NonNullable<z.infer<typeof Config>['config']>): ImageConfig {
  const env: Record<string, string> = {};
  for (const entry of c.Env ?? []) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return {
    env,
    ...(c.WorkingDir ? { workdir: c.WorkingDir } : {}),
    ...(c.User ? { user: c.User } : {}),
    ...(c.Entrypoint && c.Entrypoint.length > 0 ? { entrypoint: c.Entrypoint } : {}),
    ...(c.Cmd && c.Cmd.length > 0 ? { cmd: c.Cmd } : {}),
  };
}

/** The manifest digest the layout's index.json names `tag` (`org.opencontainers.image.ref.name`). */
export async function findByTag(layoutDir: string, tag: string): Promise<string | undefined> {
  const index = Index.parse(JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')));
  return index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)?.digest;
}

/** Every blob an image (manifest or index) refers to, itself included. */
export async function blobsOf(layoutDir: string, digest: string): Promise<string[]> {
  const raw = await readJsonBlob(layoutDir, digest, z.union([Manifest, Index]), 'manifest');
  if ('manifests' in raw) {
    const nested = await Promise.all(raw.manifests.map((m) => blobsOf(layoutDir, m.digest).catch(() => [m.digest])));
    return [digest, ...nested.flat()];
  }
  return [digest, raw.config.digest, ...raw.layers.map((l) => l.digest)];
}
