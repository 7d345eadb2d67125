import { chmod, lchown, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { UID_COUNT as ID_COUNT, UID_BASE } from './uid-map.js';

/**
 * Adds `base` to the owner and group of every entry under `dir` (itself included), without
 * following symlinks, so that a tree built as host root becomes the tree that root in a user
 * namespace mapped at `base` owns. `lchown` clears setuid/setgid bits, so those modes are put
 * back. Hardlinked files are shifted once. Ids that are already ≥ 65536 mean the tree was
 * shifted before (or holds ids a sandbox cannot map) and fail the call rather than shifting twice.
 * The one shift of the codebase: templates, snapshots' layers and test trees all use it.
 */
export async function shiftTree(dir: string, base: number = UID_BASE): Promise<void> {
  const seen = new Set<string>();
  await shiftEntry(dir, base, seen);
}

async function shiftEntry(path: string, base: number, seen: Set<string>): Promise<void> {
  const st = await lstat(path);
  if (st.nlink > 1 && !st.isDirectory()) {
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
  }
  if (st.uid >= ID_COUNT || st.gid >= ID_COUNT) {
    throw new Error(`${path}: owner ${st.uid}:${st.gid} is outside 0..${ID_COUNT - 1}; was the tree already shifted?`);
  }
  await lchown(path, st.uid + base, st.gid + base);
  if (!st.isSymbolicLink() && (st.mode & 0o7000) !== 0) await chmod(path, st.mode & 0o7777);
  if (st.isDirectory()) {
    for (const name of await readdir(path)) await shiftEntry(join(path, name), base, seen);
  }
}
