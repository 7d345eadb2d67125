import type { Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { ignoreMatcher } from '@paddock/protocol';
import type { Files } from '../files.js';

/** What one side holds at a path: kind, size and modification time (and the local inode). */
export interface SideEntry {
  type: 'file' | 'dir';
  sizeBytes: number;
  mtimeMs: number;
  /** Local side only: follows a file through a rename. */
  ino?: number;
}

/** A side's tree: relative `/`-separated path → entry. Symlinks and special files are left out. */
export type Tree = Map<string, SideEntry>;

/** Patterns every sync ignores: its own state and the temp files of uploads and downloads. */
export const BUILTIN_IGNORES = ['.paddock-sync', '*.paddock-tmp', '*.paddock-partial'];
/** Ignored unless the user says otherwise. */
export const DEFAULT_IGNORES = ['.git', 'node_modules'];

/** The ignore predicate of a sync: built-ins, defaults and the user's `--ignore` patterns. */
export function syncIgnore(extra: readonly string[]): (relPath: string) => boolean {
  return ignoreMatcher([...BUILTIN_IGNORES, ...DEFAULT_IGNORES, ...extra]);
}

/** Remote listings running at once. */
const REMOTE_LIST_CONCURRENCY = 8;

/** Walks the local directory; ignored paths (and everything below them) are skipped. */
export async function scanLocal(root: string, ignored: (relPath: string) => boolean): Promise<Tree> {
  const tree: Tree = new Map();
  const visit = async (rel: string): Promise<void> => {
    let dirents: Dirent[];
    try {
      dirents = await readdir(rel === '' ? root : join(root, rel), { withFileTypes: true });
    } catch (err) {
      // Removed while we walked: the next pass sees it gone.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const subdirs: string[] = [];
    await Promise.all(
      dirents.map(async (d) => {
        const path = rel === '' ? d.name : `${rel}/${d.name}`;
        if (ignored(path) || !(d.isFile() || d.isDirectory())) return;
        const stats = await lstat(join(root, path)).catch(() => undefined);
        if (stats === undefined) return;
        const type = stats.isDirectory() ? 'dir' : 'file';
        tree.set(path, { type, sizeBytes: type === 'dir' ? 0 : stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino });
        if (type === 'dir') subdirs.push(path);
      }),
    );
    for (const sub of subdirs) await visit(sub);
  };
  await visit('');
  return tree;
}

/**
 * Lists the sandbox directory through the SDK, one directory per call (so that ignored
 * trees such as node_modules are never listed), a few calls at a time.
 */
export async function scanRemote(
  files: Files,
  root: string,
  ignored: (relPath: string) => boolean,
  signal?: AbortSignal,
): Promise<Tree> {
  const tree: Tree = new Map();
  let queue = [''];
  while (queue.length > 0) {
    const level = queue;
    queue = [];
    for (let i = 0; i < level.length; i += REMOTE_LIST_CONCURRENCY) {
      await Promise.all(
        level.slice(i, i + REMOTE_LIST_CONCURRENCY).map(async (rel) => {
          for (const [path, entry] of await listRemoteDir(files, root, rel, ignored, signal)) {
            tree.set(path, entry);
            if (entry.type === 'dir') queue.push(path);
          }
        }),
      );
    }
  }
  return tree;
}

/** One remote directory's entries (relative paths); a directory gone meanwhile is empty. */
export async function listRemoteDir(
  files: Files,
  root: string,
  rel: string,
  ignored: (relPath: string) => boolean,
  signal?: AbortSignal,
): Promise<[string, SideEntry][]> {
  const dir = rel === '' ? root : posix.join(root, rel);
  let entries: Awaited<ReturnType<Files['list']>>;
  try {
    entries = await files.list(dir, signal ? { signal } : {});
  } catch (err) {
    if ((err as { code?: string }).code === 'NOT_FOUND') return [];
    throw err;
  }
  const out: [string, SideEntry][] = [];
  for (const e of entries) {
    if (e.type !== 'file' && e.type !== 'dir') continue;
    const path = rel === '' ? e.name : `${rel}/${e.name}`;
    if (ignored(path)) continue;
    out.push([path, remoteEntry(e)]);
  }
  return out;
}

/** A remote `FileInfo` as a tree entry. */
export function remoteEntry(info: { type: string; sizeBytes: number; modifiedAt: string }): SideEntry {
  const type = info.type === 'dir' ? 'dir' : 'file';
  return { type, sizeBytes: type === 'dir' ? 0 : info.sizeBytes, mtimeMs: Date.parse(info.modifiedAt) };
}
