import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataPaths } from '../paths.js';
import { unpackedImagesDir } from './image-base.js';
import { imageLayoutDir } from './image-template.js';
import { SKOPEO_TEMP_PREFIX } from './images/pull-progress.js';

/**
 * Removes what a crashed server left of image work: spooled uploads, skopeo's private work
 * dirs (they may hold a registry authfile) and half-written blobs in the shared layout.
 * Finished blobs stay: a later pull of the same image resumes from them. Call at start, before
 * any pull.
 */
export async function removeStaleImageFiles(paths: DataPaths): Promise<string[]> {
  const removed: string[] = [];
  const sweep = async (dir: string, doomed: (name: string) => boolean): Promise<void> => {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.filter(doomed)) {
      await rm(join(dir, name), { recursive: true, force: true });
      removed.push(join(dir, name));
    }
  };
  await sweep(join(paths.images, 'uploads'), () => true);
  await sweep(paths.images, (name) => name.startsWith('.skopeo-'));
  await sweep(imageLayoutDir(paths), (name) => name.startsWith(SKOPEO_TEMP_PREFIX));
  await sweep(unpackedImagesDir(paths), (name) => name.includes('.tmp-'));
  return removed;
}
