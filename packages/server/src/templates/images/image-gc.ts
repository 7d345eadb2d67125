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

/** Start times of pulls whose image is not marked in use yet (its digest is not known). */
const pullsInFlight = new Map<symbol, number>();

/**
 * Pulls an image and keeps it from GC while `work` uses it: from the moment the pull starts
 * (blobs it writes are newer than that) until `work` is done (by its digest).
 */
export async function withPulledImage<T>(
  pull: () => Promise<string>,
  work: (digest: string) => Promise<T>,
): Promise<T> {
  const token = Symbol('pull');
  pullsInFlight.set(token, Date.now());
  try {
    const digest = await pull();
    return await whileImageInUse(digest, () => work(digest));
  } finally {
    pullsInFlight.delete(token);
  }
}

/**
 * Collects the shared layout's garbage under the lock that pulls take, so it never races a
 * pull writing blobs; keeps images being unpacked, and every blob written since the oldest pull
 * still in flight began. Returns the bytes freed.
 */
export function collectImageGarbage(layoutDir: string, keep: Iterable<string>): Promise<number> {
  return withLayoutLock(layoutDir, async () => {
    const oldestPull = Math.min(...pullsInFlight.values());
    // A second of slack for filesystems with coarse mtimes.
    const grace = pullsInFlight.size === 0 ? {} : { graceMs: Date.now() - oldestPull + 1_000 };
    return collectGarbage(layoutDir, [...new Set([...keep, ...inUse.keys()])], grace);
  });
}
