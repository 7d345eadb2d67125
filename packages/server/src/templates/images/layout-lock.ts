import { resolve } from 'node:path';

/**
 * One writer per OCI layout at a time: skopeo rewrites index.json whole, so two copies into
 * the same layout at once would lose one's entry. In-process only: one server owns its data dir.
 */
const tails = new Map<string, Promise<void>>();

/**
 * Runs `work` once every earlier holder of this layout's lock is done. An abort while
 * waiting rejects with the signal's reason; the place in the queue is then given up.
 */
export async function withLayoutLock<T>(layoutDir: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  signal?.throwIfAborted();
  const key = resolve(layoutDir);
  const before = tails.get(key) ?? Promise.resolve();
  let release = (): void => {};
  const mine = new Promise<void>((done) => {
    release = done;
  });
  const tail = before.then(() => mine);
  tails.set(key, tail);
  const finish = (): void => {
    release();
    if (tails.get(key) === tail) tails.delete(key);
  };
  try {
    await waitOrAbort(before, signal);
  } catch (error) {
    // Those behind us still wait for `before`; let them go when it is done.
    void before.then(finish);
    throw error;
  }
  try {
    return await work();
  } finally {
    finish();
  }
}

function waitOrAbort(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return promise;
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
