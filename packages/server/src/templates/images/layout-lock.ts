import { resolve } from 'node:path';

/**
 * One writer per OCI layout at a time: skopeo rewrites index.json whole, so two copies into
 * the same layout at once would lose one's entry. In-process only: one server owns its data dir.
 */
const tails = new Map<string, Promise<void>>();

/** Runs `work` once every earlier holder of this layout's lock is done. */
export async function withLayoutLock<T>(layoutDir: string, work: () => Promise<T>): Promise<T> {
  const key = resolve(layoutDir);
  const before = tails.get(key) ?? Promise.resolve();
  let release = (): void => {};
  const mine = new Promise<void>((done) => {
    release = done;
  });
  const tail = before.then(() => mine);
  tails.set(key, tail);
  await before;
  try {
    return await work();
  } finally {
    release();
    if (tails.get(key) === tail) tails.delete(key);
  }
}
