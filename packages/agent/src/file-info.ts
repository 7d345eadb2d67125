import type { Stats } from 'node:fs';
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { type FileInfo, PaddockError } from '@paddock/protocol';
import type { UserDb } from './users.js';

/** Deepest `depth` of a listing, so that one call cannot walk a whole disk. */
export const MAX_LIST_DEPTH = 10;

/** Lexical normal form of an absolute path: no `.`/`..`, no trailing slash (but `/`). */
export function normalPath(path: string): string {
  return posix.resolve(path);
}

/** `FileInfo` of `path` itself: a final symlink is reported, not followed. */
export async function statPath(path: string, users: UserDb): Promise<FileInfo> {
  return describe(path, await lstat(path), users);
}

/**
 * Entries under the directory `path` (a symlink to a directory is followed at the root
 * only), `depth` levels deep, sorted by path. Entries that vanish while being listed are
 * skipped: the sandbox keeps running while we look.
 */
export async function listPath(path: string, depth: number, users: UserDb): Promise<FileInfo[]> {
  if (!(await stat(path)).isDirectory()) {
    throw new PaddockError('NOT_A_DIRECTORY', `not a directory: ${path}`, { path });
  }
  const entries: FileInfo[] = [];
  await walk(path, depth, users, entries);
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function walk(dir: string, depth: number, users: UserDb, into: FileInfo[]): Promise<void> {
  const names = await readdir(dir);
  const infos = await Promise.all(
    names.map(async (name) => {
      const path = posix.join(dir, name);
      try {
        return describe(path, await lstat(path), users);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    }),
  );
  for (const info of infos) {
    if (info === undefined) continue;
    into.push(info);
    if (info.type === 'dir' && depth > 1) {
      try {
        await walk(info.path, depth - 1, users, into);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
}

async function describe(path: string, stats: Stats, users: UserDb): Promise<FileInfo> {
  const info: FileInfo = {
    name: path === '/' ? '/' : posix.basename(path),
    path,
    type: stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'symlink' : 'other',
    sizeBytes: stats.size,
    mode: stats.mode & 0o7777,
    owner: users.userName(stats.uid),
    group: users.groupName(stats.gid),
    modifiedAt: stats.mtime.toISOString(),
  };
  if (info.type === 'symlink') info.symlinkTarget = await readlink(path);
  return info;
}
