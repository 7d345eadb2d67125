import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TemplateBuildEvent, TemplateStart } from '@paddock/protocol';
import type { DataPaths } from '../paths.js';
import { UID_BASE, UID_COUNT } from '../runtime/uid-map.js';
import { DEFAULT_PATH, diskUsageBytes, publish } from './build-steps.js';
import { withPulledImage } from './images/image-gc.js';
import type { ImageConfig, ImageProgress, ImageSource } from './images/image-types.js';
import { readStoredImage } from './images/oci-layout.js';
import { copyIntoLayout } from './images/skopeo-copy.js';
import { type UnpackImageOptions, unpackImage } from './images/unpack-image.js';
import { type BuiltTemplate, readBuiltTemplate, removeTree, scratchDir, writeMeta } from './layout.js';
import { canonicalJson } from './spec.js';

/**
 * Part of every image template's hash. Bump it when unpacking changes what lands on disk
 * (whiteout rules, ownership, skipped entry kinds).
 */
export const IMAGE_TEMPLATE_VERSION = 1;

/** What a template adds to the image's own config (spec fields, CLI flags). */
export interface ImageOverrides {
  env?: Record<string, string>;
  workdir?: string;
  user?: string;
  start?: TemplateStart;
}

export interface ImageTemplateJob {
  paths: DataPaths;
  source: ImageSource;
  overrides: ImageOverrides;
  signal: AbortSignal;
  emit: (event: TemplateBuildEvent) => void;
}

/** The shared OCI layout: every pulled or imported image's blobs, by digest. */
export function imageLayoutDir(paths: DataPaths): string {
  return join(paths.images, 'layout');
}

/**
 * A template that is an image as it is: pull (or import) into the shared layout, then unpack
 * straight into the template's rootfs, shifted into the sandboxes' id range in the same pass.
 * Cached by the manifest digest and the overrides, so pulling a tag that has not moved
 * costs one manifest request.
 */
export async function buildImageTemplate(job: ImageTemplateJob): Promise<{ info: BuiltTemplate; cached: boolean }> {
  const { paths, signal } = job;
  const layoutDir = imageLayoutDir(paths);
  const progress = progressOf(job);

  progress('pull', `fetching ${describeSource(job.source)}`);
  // From the pull until published, the image is no template's: keep GC off its blobs.
  return withPulledImage(
    async () => {
      const pulled = await copyIntoLayout({
        source: job.source,
        layoutDir,
        signal,
        onProgress: (p) => progress('pull', pullMessage(p), p),
      });
      return pulled.manifestDigest;
    },
    (digest) => unpackAsTemplate(job, digest),
  );
}

async function unpackAsTemplate(
  job: ImageTemplateJob,
  manifestDigest: string,
): Promise<{ info: BuiltTemplate; cached: boolean }> {
  const { paths, signal } = job;
  const layoutDir = imageLayoutDir(paths);
  const progress = progressOf(job);
  const image = await readStoredImage(layoutDir, manifestDigest);
  const hash = imageTemplateHash(image.manifestDigest, job.overrides);
  const existing = await readBuiltTemplate(paths, hash);
  if (existing !== undefined) {
    progress('cached', `image ${image.manifestDigest} is already unpacked as template ${hash}`);
    return { info: existing, cached: true };
  }

  await mkdir(paths.templates, { recursive: true, mode: 0o755 });
  const scratch = scratchDir(paths, hash, 'tmp');
  await mkdir(join(scratch, 'rootfs'), { recursive: true, mode: 0o755 });
  try {
    await unpackForSandboxes({
      layoutDir,
      image,
      target: join(scratch, 'rootfs'),
      signal,
      onProgress: (p) => progress('unpack', unpackMessage(p), p),
    });
    progress('finalize', 'measuring and publishing the template');
    const meta: BuiltTemplate = {
      specHash: hash,
      sizeBytes: await diskUsageBytes(join(scratch, 'rootfs'), signal),
      createdAt: new Date().toISOString(),
      ...templateDefaults(image.config, job.overrides),
      source: { kind: 'image', ref: describeSource(job.source), digest: image.manifestDigest },
      ...(job.overrides.start ? { start: job.overrides.start } : {}),
    };
    await writeMeta(scratch, meta);
    return { info: await publish(paths, hash, scratch, meta), cached: false };
  } catch (err) {
    await removeTree(scratch);
    throw err;
  }
}

/** Unpacks an image as sandboxes see it: every owner shifted into their user namespace's range. */
export function unpackForSandboxes(options: Omit<UnpackImageOptions, 'idShift'>): ReturnType<typeof unpackImage> {
  return unpackImage({ ...options, idShift: { base: UID_BASE, count: UID_COUNT } });
}

/** The content hash naming an image template: the manifest digest plus what the template adds. */
export function imageTemplateHash(manifestDigest: string, overrides: ImageOverrides): string {
  return createHash('sha256')
    .update(`paddock-image-template-v${IMAGE_TEMPLATE_VERSION}\n${manifestDigest}\n${canonicalJson(overrides)}`)
    .digest('hex')
    .slice(0, 16);
}

/**
 * A sandbox's defaults from the image's config, as `docker run` would use them: its Env (PATH
 * included; Debian's when the image sets none), WorkingDir (or `/`) and User (or root); the
 * template's own fields win.
 */
export function templateDefaults(
  config: ImageConfig,
  overrides: ImageOverrides,
): Pick<BuiltTemplate, 'env' | 'workdir' | 'user' | 'entrypoint' | 'cmd'> {
  return {
    env: { PATH: DEFAULT_PATH, ...config.env, ...overrides.env },
    workdir: overrides.workdir ?? (config.workdir || '/'),
    user: overrides.user ?? (config.user || 'root'),
    ...(config.entrypoint ? { entrypoint: config.entrypoint } : {}),
    ...(config.cmd ? { cmd: config.cmd } : {}),
  };
}

/** Progress events of a job, with the counts of a pull or unpack when there are some. */
function progressOf(job: ImageTemplateJob) {
  return (step: string, message: string, counts?: ImageProgress): void =>
    job.emit({ type: 'progress', step, message, ...(counts ? countsOf(counts) : {}) });
}

/** The ref as given, or what kind of archive was uploaded (never the server's spool path). */
function describeSource(source: ImageSource): string {
  return source.kind === 'registry' ? source.ref : `uploaded ${source.kind}`;
}

function countsOf(p: ImageProgress) {
  return {
    layersDone: p.layersDone,
    layersTotal: p.layersTotal,
    bytesDone: p.bytesDone,
    ...(p.bytesTotal === undefined ? {} : { bytesTotal: p.bytesTotal }),
  };
}

function mib(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MiB`;
}

function pullMessage(p: ImageProgress): string {
  const total = p.bytesTotal === undefined ? '' : ` of ${mib(p.bytesTotal)}`;
  return `pulled ${mib(p.bytesDone)}${total}, ${p.layersDone}/${p.layersTotal} layer(s)`;
}

function unpackMessage(p: ImageProgress): string {
  return `unpacked ${p.layersDone}/${p.layersTotal} layer(s), ${mib(p.bytesDone)}`;
}
