import type { Stats } from 'node:fs';
import { type FileHandle, lstat, realpath, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { PaddockError } from '@paddock/protocol';
import type { SandboxUser } from './users.js';

/**
 * Permission checks for file calls that name a user: the agent runs as sandbox root, so it
 * checks, by the mode bits, what the kernel would let that user do (a URL signed for `user`
 * must not read root's 0600 files). The final file is checked on the opened handle; the
 * directories on the way are checked by path just before, which code inside the sandbox could
 * race — but such code can call the agent itself, so the check guards callers from outside.
 * ACLs and capabilities other than root's are not modelled.
 */

/** Read, write, execute/search: the bits of `rwx`. */
export const ACCESS = { read: 4, write: 2, search: 1 } as const;

type Owned = Pick<Stats, 'mode' | 'uid' | 'gid'>;

/** True when `user` has every bit of `want` on a file with these mode bits and owners. */
export function permits(file: Owned, user: SandboxUser, want: number): boolean {
  // Sandbox root has CAP_DAC_OVERRIDE in its user namespace.
  if (user.uid === 0) return true;
  let bits: number;
  if (file.uid === user.uid) bits = (file.mode >> 6) & 7;
  else if (file.gid === user.gid || user.groups.includes(file.gid)) bits = (file.mode >> 3) & 7;
  else bits = file.mode & 7;
  return (bits & want) === want;
}

function denied(user: SandboxUser, verb: string, path: string): PaddockError {
  return new PaddockError('PERMISSION_DENIED', `permission denied: user "${user.name}" cannot ${verb} ${path}`, {
    path,
    user: user.name,
  });
}

/** Every directory from `/` down to `dir` (a path without symlinks) must be searchable. */
async function checkSearchable(dir: string, user: SandboxUser, path: string): Promise<void> {
  let at = '/';
  for (const part of ['', ...dir.split('/').filter(Boolean)]) {
    at = posix.join(at, part);
    if (!permits(await stat(at), user, ACCESS.search)) throw denied(user, 'reach', path);
  }
}

/** The real path of the deepest existing ancestor of `path` (itself included), and whether it is `path`. */
async function deepestExisting(path: string): Promise<{ real: string; itself: boolean }> {
  for (let p = path; ; p = posix.dirname(p)) {
    try {
      return { real: await realpath(p), itself: p === path };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || p === '/') throw err;
    }
  }
}

/**
 * Where a read of `path` by `user` opens: its real path, once the directories to it are
 * searchable by `user`. A missing file stays a NOT_FOUND, but only for a user who could have
 * looked (otherwise the answer would reveal what exists in directories closed to them).
 */
export async function readablePath(path: string, user: SandboxUser): Promise<string> {
  if (user.uid === 0) return path;
  let real: string;
  try {
    real = await realpath(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await checkSearchable((await deepestExisting(posix.dirname(path))).real, user, path);
    throw err;
  }
  await checkSearchable(posix.dirname(real), user, path);
  return real;
}

/** The opened file must be readable by `user` (checked on the handle: no race on the file itself). */
export async function checkReadable(file: FileHandle, user: SandboxUser, path: string): Promise<void> {
  if (!permits(await file.stat(), user, ACCESS.read)) throw denied(user, 'read', path);
}

/**
 * A write of `path` by `user` replaces the file through a temp file in its directory (and
 * creates missing parents): `user` needs write and search on the deepest existing directory,
 * write on an existing file, and, in a sticky directory (`/tmp`), to own the file or the
 * directory — what the kernel asks of `open(O_CREAT|O_TRUNC)`, `mkdir` and `rename` by that user.
 */
export async function checkWritable(path: string, user: SandboxUser): Promise<void> {
  if (user.uid === 0) return;
  const { real: dir, itself: parentExists } = await deepestExisting(posix.dirname(path));
  await checkSearchable(dir, user, path);
  const dirStats = await stat(dir);
  if (!dirStats.isDirectory()) return; // a file where a parent should be: the write reports it
  if (!permits(dirStats, user, ACCESS.write | ACCESS.search)) throw denied(user, 'write in', dir);
  if (!parentExists) return; // the file's parents are new, and so is the file
  const existing = await lstat(posix.join(dir, posix.basename(path))).catch(() => undefined);
  if (existing === undefined) return;
  if (existing.isFile() && !permits(existing, user, ACCESS.write)) throw denied(user, 'write', path);
  const sticky = (dirStats.mode & 0o1000) !== 0;
  if (sticky && existing.uid !== user.uid && dirStats.uid !== user.uid) throw denied(user, 'replace', path);
}
