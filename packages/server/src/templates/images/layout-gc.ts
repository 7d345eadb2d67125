/**
 * Garbage collection of the shared OCI layout: blobs that no kept image reaches (index →
 * manifests → config + layers) are removed, and so are `index.json` entries not kept.
 *
 * Only `blobs/sha256/<64 hex>` files are ever removed: skopeo writes its temporary files in
 * the layout root and renames a blob into `blobs/` only once it is complete, so a blob in
 * the middle of a write is never seen here. A pull that has finished some blobs but not yet
 * written `index.json` is another matter: run GC under the same lock as pulls, or pass
 * `graceMs` so that freshly written blobs stay.
 */
import { readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PaddockError } from '@paddock/protocol';
import { childDigests, readLayoutIndex } from './oci-layout.js';

export interface GarbageOptions {
  /** Blobs modified less than this long ago stay, reachable or not. Default 0. */
  graceMs?: number;
  now?: () => number;
}

const HEX = /^[0-9a-f]{64}$/;

/** Removes what `keep` (manifest or index digests still used) does not reach; returns bytes freed. */
export function collectGarbage(layoutDir: string, keep: readonly string[], options: GarbageOptions = {}): number {
  const reachable = markReachable(layoutDir, keep);
  const keepSet = new Set(keep);
  const index = readLayoutIndex(layoutDir);
  const kept = index.manifests.filter((m) => keepSet.has(m.digest));
  if (kept.length !== index.manifests.length) {
    // index.json first, so that no entry ever points to a blob that is gone.
    const tmp = join(layoutDir, `index.json.gc-${process.pid}`);
    writeFileSync(tmp, JSON.stringify({ ...index, manifests: kept }), { mode: 0o644 });
    renameSync(tmp, join(layoutDir, 'index.json'));
  }
  const dir = join(layoutDir, 'blobs', 'sha256');
  const now = (options.now ?? Date.now)();
  let freed = 0;
  for (const name of listDir(dir)) {
    if (!HEX.test(name) || reachable.has(`sha256:${name}`)) continue;
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (st === undefined || !st.isFile()) continue;
    if (options.graceMs !== undefined && now - st.mtimeMs < options.graceMs) continue;
    unlinkSync(path);
    freed += st.size;
  }
  return freed;
}

/** Every digest reachable from `keep`; kept digests whose blob is gone are skipped. */
function markReachable(layoutDir: string, keep: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...keep];
  for (let digest = todo.pop(); digest !== undefined; digest = todo.pop()) {
    if (seen.has(digest)) continue;
    seen.add(digest);
    let children: ReturnType<typeof childDigests>;
    try {
      children = childDigests(layoutDir, digest);
    } catch (err) {
      // A missing kept image has nothing to keep; anything else (a corrupt document) must stop
      // the GC, since what it points to cannot be known.
      if (err instanceof PaddockError && err.code === 'NOT_FOUND') continue;
      throw err;
    }
    for (const leaf of children.leaves) seen.add(leaf);
    todo.push(...children.documents);
  }
  return seen;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
