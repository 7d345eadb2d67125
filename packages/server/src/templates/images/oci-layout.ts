/**
 * Reads the shared OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`) that
 * skopeo pulls into. Every document read here is checked against its digest and parsed by a
 * schema; a digest becomes a path only after it matched `^sha256:[0-9a-f]{64}$`.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PaddockError } from '@paddock/protocol';
import { z } from 'zod';
import type { ImageConfig, StoredImage } from './image-types.js';

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

const INDEX_TYPES: ReadonlySet<string> = new Set([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);
const REF_NAME = 'org.opencontainers.image.ref.name';
const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** Manifests and configs are small; a bigger "document" is a wrong blob, not worth reading. */
const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;

export const Descriptor = z.object({
  mediaType: z.string(),
  digest: z.string().regex(DIGEST, 'not a sha256 digest'),
  size: z.number().int().nonnegative(),
  platform: z.object({ architecture: z.string(), os: z.string(), variant: z.string().optional() }).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type Descriptor = z.infer<typeof Descriptor>;

/** An OCI image index or a Docker manifest list (same shape). */
export const ImageIndex = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(Descriptor),
});
export type ImageIndex = z.infer<typeof ImageIndex>;

/** An OCI image manifest or a Docker schema2 manifest (same shape). */
export const ImageManifest = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: Descriptor,
  layers: z.array(Descriptor),
});
export type ImageManifest = z.infer<typeof ImageManifest>;

const nullableList = z.array(z.string()).nullish();
export const ImageConfigDocument = z.object({
  architecture: z.string().optional(),
  os: z.string().optional(),
  config: z
    .object({
      Env: nullableList,
      WorkingDir: z.string().nullish(),
      User: z.string().nullish(),
      Entrypoint: nullableList,
      Cmd: nullableList,
    })
    .nullish(),
  rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(z.string().regex(DIGEST)) }),
});
export type ImageConfigDocument = z.infer<typeof ImageConfigDocument>;

/** The path of a blob in the layout; refuses anything that is not a plain sha256 digest. */
export function blobPath(layoutDir: string, digest: string): string {
  if (!DIGEST.test(digest)) throw new PaddockError('INVALID_ARGUMENT', `not a sha256 digest: "${digest}"`);
  return join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

/** Reads a small JSON blob, checks it against its digest and parses it. */
function readDocument<T>(layoutDir: string, digest: string, schema: z.ZodType<T>): T {
  const path = blobPath(layoutDir, digest);
  const size = statOrMissing(path, digest);
  if (size > MAX_DOCUMENT_BYTES) {
    throw new PaddockError(
      'INVALID_ARGUMENT',
      `image document ${digest} is ${size} bytes, more than a manifest can be`,
    );
  }
  const bytes = readFileSync(path);
  const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (actual !== digest) {
    throw new PaddockError(
      'TEMPLATE_BUILD_FAILED',
      `stored blob ${digest} is corrupt (its content hashes to ${actual})`,
    );
  }
  return parseJson(bytes.toString('utf8'), schema, digest);
}

function statOrMissing(path: string, digest: string): number {
  const st = statSync(path, { throwIfNoEntry: false });
  if (st === undefined) throw new PaddockError('NOT_FOUND', `blob ${digest} is not in the image layout`);
  return st.size;
}

function parseJson<T>(text: string, schema: z.ZodType<T>, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new PaddockError('INVALID_ARGUMENT', `${what} is not JSON`);
  }
  return parseValue(value, schema, what);
}

function parseValue<T>(value: unknown, schema: z.ZodType<T>, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new PaddockError('INVALID_ARGUMENT', `${what} is not a valid image document: ${parsed.error.message}`);
  }
  return parsed.data;
}

/** True when the document is an index, by its media type or (it is optional) by its shape. */
function isIndex(doc: Record<string, unknown>): boolean {
  if (typeof doc.mediaType === 'string' && INDEX_TYPES.has(doc.mediaType)) return true;
  return Array.isArray(doc.manifests) && doc.config === undefined;
}

/** Reads `index.json` of the layout (the list of tagged images). */
export function readLayoutIndex(layoutDir: string): ImageIndex {
  const path = join(layoutDir, 'index.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { schemaVersion: 2, manifests: [] };
    throw err;
  }
  return parseJson(text, ImageIndex, 'index.json');
}

/** The digest the layout's `index.json` tags as `tag`, or `undefined`. */
export function findByTag(layoutDir: string, tag: string): string | undefined {
  const index = readLayoutIndex(layoutDir);
  // skopeo replaces an entry when it re-tags, but a hand-made layout may repeat a tag: the last one wins.
  return index.manifests.findLast((m) => m.annotations?.[REF_NAME] === tag)?.digest;
}

/** linux/amd64 (the only platform Paddock sandboxes run); the variant is not looked at. */
function pickPlatform(index: ImageIndex, digest: string): Descriptor {
  const found = index.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64');
  if (found === undefined) {
    const offered = index.manifests.map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}` : '?'));
    throw new PaddockError(
      'INVALID_ARGUMENT',
      `image ${digest} has no linux/amd64 manifest (it has ${offered.join(', ')})`,
      {
        platforms: offered,
      },
    );
  }
  return found;
}

/** What a template keeps of the image config: Env as a record, WorkingDir, User, Entrypoint, Cmd. */
export function toImageConfig(doc: ImageConfigDocument): ImageConfig {
  const c = doc.config ?? {};
  const env: Record<string, string> = {};
  for (const line of c.Env ?? []) {
    const eq = line.indexOf('=');
    // `NAME` without `=` means an empty value in Docker's reading of Env.
    if (eq === -1) env[line] = '';
    else env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  const out: ImageConfig = { env };
  if (c.WorkingDir) out.workdir = c.WorkingDir;
  if (c.User) out.user = c.User;
  if (c.Entrypoint) out.entrypoint = c.Entrypoint;
  if (c.Cmd) out.cmd = c.Cmd;
  return out;
}

/**
 * The image stored under `digest`: a manifest, or an index / manifest list from which the
 * linux/amd64 manifest is taken. `manifestDigest` of the result is the manifest's own digest.
 */
export function readStoredImage(layoutDir: string, digest: string): StoredImage {
  let manifestDigest = digest;
  let raw = readDocument(layoutDir, digest, z.record(z.string(), z.unknown()));
  // One level of nesting is what registries produce; two guards against a loop of indexes.
  for (let depth = 0; isIndex(raw); depth++) {
    if (depth === 2) throw new PaddockError('INVALID_ARGUMENT', `image ${digest} nests indexes too deeply`);
    const picked = pickPlatform(parseValue(raw, ImageIndex, `index ${manifestDigest}`), manifestDigest);
    manifestDigest = picked.digest;
    raw = readDocument(layoutDir, manifestDigest, z.record(z.string(), z.unknown()));
  }
  const manifest = parseValue(raw, ImageManifest, `manifest ${manifestDigest}`);
  const configDoc = readDocument(layoutDir, manifest.config.digest, ImageConfigDocument);
  if (configDoc.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new PaddockError(
      'INVALID_ARGUMENT',
      `image ${manifestDigest} lists ${manifest.layers.length} layers but its config ${configDoc.rootfs.diff_ids.length} diff_ids`,
    );
  }
  return {
    manifestDigest,
    configDigest: manifest.config.digest,
    layers: manifest.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size })),
    diffIds: configDoc.rootfs.diff_ids,
    config: toImageConfig(configDoc),
  };
}

/**
 * What an image document points to: an index points to further documents (its manifests), a
 * manifest to leaves (its config and layers).
 */
export function childDigests(layoutDir: string, digest: string): { documents: string[]; leaves: string[] } {
  const raw = readDocument(layoutDir, digest, z.record(z.string(), z.unknown()));
  if (isIndex(raw)) {
    return { documents: parseValue(raw, ImageIndex, `index ${digest}`).manifests.map((m) => m.digest), leaves: [] };
  }
  const manifest = parseValue(raw, ImageManifest, `manifest ${digest}`);
  return { documents: [], leaves: [manifest.config.digest, ...manifest.layers.map((l) => l.digest)] };
}
