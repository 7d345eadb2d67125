import { access, chmod, lchown, lstat, opendir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UID_BASE, UID_COUNT } from './uid-map.js';

const MARKER = '.paddock-uid-shifted';

/**
 * Shifts every entry under `dir` (the dir itself included, symlinks not followed) from
 * owner u:g to UID_BASE+u:UID_BASE+g, so that the tree appears root-owned inside a
 * sandbox's user namespace. Idempotent: a marker file records a finished shift, and ids
 * already in the shifted range are left alone, so an interrupted run can simply rerun.
 * lchown clears setuid/setgid bits, so modes are restored after each chown.
 */
export async function shiftOwnership(dir: string): Promise<void> {
  const marker = join(dir, MARKER);
  if (await exists(marker)) return;
  await shiftEntry(dir);
  await writeFile(marker, `${UID_BASE}\n`);
}

async function shiftEntry(path: string): Promise<void> {
  const st = await lstat(path);
  const uid = shifted(st.uid);
  const gid = shifted(st.gid);
  if (uid !== st.uid || gid !== st.gid) {
    await lchown(path, uid, gid);
    // chown drops S_ISUID/S_ISGID on regular files; put them back (not for symlinks).
    if (!st.isSymbolicLink() && (st.mode & 0o6000) !== 0) {
      await chmod(path, st.mode & 0o7777);
    }
  }
  if (!st.isDirectory()) return;
  const entries = await opendir(path);
  for await (const entry of entries) await shiftEntry(join(path, entry.name));
}

function shifted(id: number): number {
  return id >= UID_BASE && id < UID_BASE + UID_COUNT ? id : id + UID_BASE;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
