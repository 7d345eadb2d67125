import { resolve } from 'node:path';
import type { DataPaths } from '../../paths.js';
import { removeTree } from '../layout.js';
import { newScratch } from './layer-cache.js';
import { mountOverlay } from './overlay.js';

/**
 * Runs `fn` with a read-only view of a stack of layers (topmost first), then unmounts it. A
 * single layer is its own view (a read-only overlay needs two lower dirs).
 */
export async function withLayerView<T>(
  options: { paths: DataPaths; lowers: readonly string[]; signal: AbortSignal },
  fn: (root: string) => Promise<T>,
): Promise<T> {
  const { paths, lowers } = options;
  if (lowers.length === 1) return fn(resolve(paths.buildCache, lowers[0] as string));
  const scratch = await newScratch(paths, 'view');
  try {
    const target = `${scratch}/merged`;
    await mountOverlay({ lower: lowers, target, cwd: paths.buildCache, signal: options.signal });
    return await fn(target);
  } finally {
    // removeTree unmounts what is below the scratch dir first.
    await removeTree(scratch);
  }
}
