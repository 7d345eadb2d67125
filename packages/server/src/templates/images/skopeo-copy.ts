import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PaddockError } from '@paddock/protocol';
import { runProcess } from '../process.js';
import type { ImageProgress, ImageSource, RegistryCredentials } from './image-types.js';
import { withLayoutLock } from './layout-lock.js';
import { readPullPlan } from './pull-plan.js';
import { SKOPEO_TEMP_PREFIX, watchPullProgress } from './pull-progress.js';
import { makeSkopeoWorkDir, scrubSecret } from './registry-auth.js';
import { copyArgs, resolveSource, type SkopeoSource } from './skopeo-args.js';
import { skopeoError } from './skopeo-errors.js';

export interface CopyIntoLayoutOptions {
  source: ImageSource;
  /** The shared OCI layout (DATA/images/layout); made when missing. */
  layoutDir: string;
  signal?: AbortSignal;
  onProgress?: (progress: ImageProgress) => void;
}

const REF_NAME = 'org.opencontainers.image.ref.name';

/**
 * Copies an image (linux/amd64 of an index) into the shared OCI layout with `skopeo copy` and
 * returns the digest of the manifest copied. Blobs already in the layout are not fetched again
 * (skopeo checks the destination first), so a pull that was aborted resumes. The index entry
 * is named by the manifest digest, once per image, however often it is pulled.
 *
 * @example
 * const { manifestDigest } = await copyIntoLayout({
 *   source: { kind: 'registry', ref: 'python:3.12-slim' }, layoutDir, signal,
 * });
 */
export async function copyIntoLayout(options: CopyIntoLayoutOptions): Promise<{ manifestDigest: string }> {
  const { layoutDir, signal } = options;
  signal?.throwIfAborted();
  const source = resolveSource(options.source);
  const credentials = options.source.kind === 'registry' ? options.source.credentials : undefined;
  const parentDir = dirname(layoutDir);
  await mkdir(parentDir, { recursive: true });
  const work = await makeSkopeoWorkDir({
    parentDir,
    ...(source.ref === undefined ? {} : { registry: source.ref.registry }),
    ...(credentials === undefined ? {} : { credentials }),
  });
  try {
    const authFile =
      work.authFile ?? (options.source.kind === 'registry' ? options.source.authFile : undefined) ?? undefined;
    const env = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: work.dir,
      TMPDIR: work.dir,
      XDG_RUNTIME_DIR: work.dir,
    };
    const plan = await scrubbed(credentials, () =>
      readPullPlan({ source, env, ...(authFile === undefined ? {} : { authFile }), ...(signal ? { signal } : {}) }),
    );
    return await withLayoutLock(
      layoutDir,
      () => copyLocked({ source, layoutDir, env, workDir: work.dir, plan, credentials, authFile, options }),
      signal,
    );
  } finally {
    await work.dispose();
  }
}

interface LockedCopy {
  source: SkopeoSource;
  layoutDir: string;
  env: Record<string, string>;
  workDir: string;
  plan: Awaited<ReturnType<typeof readPullPlan>>;
  credentials: RegistryCredentials | undefined;
  authFile: string | undefined;
  options: CopyIntoLayoutOptions;
}

async function copyLocked(copy: LockedCopy): Promise<{ manifestDigest: string }> {
  const { source, layoutDir, options } = copy;
  copy.options.signal?.throwIfAborted();
  const blobsBefore = new Set(await listBlobs(layoutDir));
  const tag = `paddock-pull-${randomBytes(6).toString('hex')}`;
  const digestFile = join(copy.workDir, 'digest');
  const args = copyArgs({
    source,
    layoutDir,
    tag,
    digestFile,
    ...(copy.authFile === undefined ? {} : { authFile: copy.authFile }),
  });
  const progress = watchPullProgress({ layoutDir, plan: copy.plan, onProgress: options.onProgress ?? (() => {}) });
  let finished = false;
  try {
    const result = await runProcess({
      file: 'skopeo',
      // skopeo 1.9 ignores TMPDIR for archive sources and would leave /var/tmp/oci* behind.
      args: ['--tmpdir', copy.workDir, ...args],
      env: copy.env,
      signal: options.signal,
      tailLines: 20,
    }).catch(async (error: unknown) => {
      // Aborted: skopeo's group is dead. Finished blobs stay (the next pull skips them); its
      // half-written temp files are garbage.
      await removeTempFiles(layoutDir);
      throw error;
    });
    if (result.exitCode !== 0) {
      const output = result.tail.map((line) => scrubSecret(line, copy.credentials));
      const error = skopeoError({ source, output });
      await removeTempFiles(layoutDir);
      // Content that failed its digest taints the whole pull: drop every blob it brought.
      if (error.details?.reason === 'digest-mismatch') await removeNewBlobs(layoutDir, blobsBefore);
      throw error;
    }
    const manifestDigest = (await readFile(digestFile, 'utf8')).trim();
    await nameIndexEntry({ layoutDir, tag, manifestDigest });
    finished = true;
    return { manifestDigest };
  } finally {
    await progress.stop(finished);
  }
}

async function listBlobs(layoutDir: string): Promise<string[]> {
  return readdir(join(layoutDir, 'blobs', 'sha256')).catch(() => []);
}

async function removeTempFiles(layoutDir: string): Promise<void> {
  const names = await readdir(layoutDir).catch(() => []);
  await Promise.all(
    names.filter((n) => n.startsWith(SKOPEO_TEMP_PREFIX)).map((n) => rm(join(layoutDir, n), { force: true })),
  );
}

async function removeNewBlobs(layoutDir: string, before: ReadonlySet<string>): Promise<void> {
  const added = (await listBlobs(layoutDir)).filter((name) => !before.has(name));
  await Promise.all(added.map((name) => rm(join(layoutDir, 'blobs', 'sha256', name), { force: true })));
}

interface IndexEntry {
  digest: string;
  annotations?: Record<string, string>;
}

/**
 * Renames the temp tag's index entry to the manifest digest and drops a second entry for the
 * same digest, so pulling an image twice leaves one entry. Written via a temp file and rename.
 */
async function nameIndexEntry(options: { layoutDir: string; tag: string; manifestDigest: string }): Promise<void> {
  const path = join(options.layoutDir, 'index.json');
  const index = JSON.parse(await readFile(path, 'utf8')) as { manifests?: IndexEntry[] };
  const manifests = index.manifests ?? [];
  const ours = manifests.find((entry) => entry.annotations?.[REF_NAME] === options.tag);
  if (ours === undefined) {
    throw new PaddockError('INTERNAL', `skopeo left no index entry for tag ${options.tag}`, {
      layout: options.layoutDir,
    });
  }
  ours.annotations = { ...ours.annotations, [REF_NAME]: options.manifestDigest };
  index.manifests = manifests.filter(
    (entry) => entry === ours || entry.annotations?.[REF_NAME] !== options.manifestDigest,
  );
  const temp = `${path}.${options.tag}`;
  await writeFile(temp, JSON.stringify(index));
  await rename(temp, path);
}

/** Runs `work`; a PaddockError it throws has the password scrubbed from its message and details. */
async function scrubbed<T>(credentials: RegistryCredentials | undefined, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof PaddockError) || credentials === undefined) throw error;
    const details =
      error.details === undefined ? undefined : JSON.parse(scrubSecret(JSON.stringify(error.details), credentials));
    throw new PaddockError(error.code, scrubSecret(error.message, credentials), details);
  }
}
