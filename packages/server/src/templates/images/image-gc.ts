import { collectGarbage } from './layout-gc.js';
import { withLayoutLock } from './layout-lock.js';

/** Images being unpacked right now: not yet a template's, but not garbage either. */
const inUse = new Map<string, number>();

/** Marks an image as in use for the duration of `work` (e.g. an unpack), so GC keeps it. */
export async function whileImageInUse<T>(digest: string, work: () => Promise<T>): Promise<T> {
  inUse.set(digest, (inUse.get(digest) ?? 0) + 1);
  try {
    return await work();
  } finally {
    const left = (inUse.get(digest) ?? 1) - 1;
    if (left === 0) inUse.delete(digest);
    else inUse.set(digest, left);
  }
}

/**
 * Collects the shared layout's garbage under the lock that pulls take, so it never races a
 * pull writing blobs, and keeps images being unpacked. Returns the bytes freed.
 */
export function collectImageGarbage(layoutDir: string, keep: Iterable<string>): Promise<number> {
  return withLayoutLock(layoutDir, async () => collectGarbage(layoutDir, [...new Set([...keep, ...inUse.keys()])]));
}
