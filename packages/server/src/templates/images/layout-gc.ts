import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withLayoutLock } from './layout-lock.js';
import { blobsOf } from './oci-layout.js';

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
 * Removes the blobs of the shared layout that no image in `keep` (nor one being unpacked)
 * refers to, and index entries of images not kept. Runs under the layout's lock, so it never
 * races a pull writing new blobs. Returns the bytes freed.
 */
export function collectGarbage(layoutDir: string, keep: Iterable<string>): Promise<number> {
  return withLayoutLock(layoutDir, async () => {
    const kept = new Set([...keep, ...inUse.keys()]);
    const live = new Set<string>();
    for (const digest of kept) {
      for (const blob of await blobsOf(layoutDir, digest).catch(() => [digest])) live.add(blob);
    }
    await pruneIndex(layoutDir, kept);
    const dir = join(layoutDir, 'blobs', 'sha256');
    let freed = 0;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (live.has(`sha256:${name}`)) continue;
      const path = join(dir, name);
      freed += (await stat(path)).size;
      await rm(path, { force: true });
    }
    return freed;
  });
}

async function pruneIndex(layoutDir: string, kept: ReadonlySet<string>): Promise<void> {
  const file = join(layoutDir, 'index.json');
  let index: { manifests?: { digest: string }[] };
  try {
    index = JSON.parse(await readFile(file, 'utf8')) as typeof index;
  } catch {
    return;
  }
  const manifests = (index.manifests ?? []).filter((m) => kept.has(m.digest));
  if (manifests.length === (index.manifests ?? []).length) return;
  await writeFile(`${file}.tmp`, JSON.stringify({ ...index, manifests }));
  await rename(`${file}.tmp`, file);
}
