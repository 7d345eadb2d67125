import { chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataPaths } from '../../paths.js';
import { UID_BASE } from '../../runtime/uid-map.js';
import { removeTree } from '../layout.js';
import { commitLayer, newScratch } from './layer-cache.js';
import { mountOverlay, unmount } from './overlay.js';

export interface LayerJob {
  paths: DataPaths;
  key: string;
  /** Lower layers, topmost first: build-cache layers relative to the cache dir, the base absolute. */
  lowers: readonly string[];
  signal: AbortSignal;
  /** Changes the merged view; whatever it writes lands in the new layer. */
  apply: (merged: string) => Promise<void>;
}

/**
 * Runs one file-changing step on an overlay of the layers so far with a fresh upper dir, and
 * stores that upper dir as the step's cached layer. On failure the mount and the scratch dir go,
 * and nothing is cached.
 */
export async function buildLayer(job: LayerJob): Promise<string> {
  const scratch = await newScratch(job.paths, job.key);
  const upper = join(scratch, 'layer');
  const work = join(scratch, 'work');
  const merged = join(scratch, 'merged');
  try {
    await mkdir(upper, { mode: 0o755 });
    await mkdir(work, { mode: 0o700 });
    // The merged root takes its owner from the upper dir: root of the sandbox, not host root.
    await chown(upper, UID_BASE, UID_BASE);
    await mountOverlay({ lower: job.lowers, upper: { dir: upper, work }, target: merged, cwd: job.paths.buildCache });
    try {
      await job.apply(merged);
    } finally {
      await unmount(merged);
    }
    job.signal.throwIfAborted();
    await rm(work, { recursive: true, force: true });
    await rm(merged, { recursive: true, force: true });
    return await commitLayer(job.paths, { key: job.key, scratch });
  } catch (err) {
    await removeTree(scratch);
    throw err;
  }
}
