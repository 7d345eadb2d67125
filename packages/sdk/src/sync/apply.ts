import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, rename, rm, utimes } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Files } from '../files.js';
import { deleteKeys, moveKeys, type SyncAction } from './plan.js';
import type { Base } from './sync-state.js';
import { remoteEntry, type SideEntry, type Tree } from './tree.js';

/** Both sides of a sync and what is known of them; `apply` keeps all of it up to date. */
export interface SyncSides {
  files: Files;
  localRoot: string;
  remoteRoot: string;
  base: Base;
  local: Tree;
  remote: Tree;
  signal?: AbortSignal;
}

/** Counts of what a pass did, for the summary line. */
export interface SyncCounts {
  pushed: number;
  pulled: number;
  deleted: number;
  renamed: number;
}

/** Wording of each action in the CLI's log. */
export function describeAction(a: SyncAction): string | undefined {
  switch (a.kind) {
    case 'push':
      return `push ${a.path}${a.local.type === 'dir' ? '/' : ''}`;
    case 'pull':
      return `pull ${a.path}${a.remote.type === 'dir' ? '/' : ''}`;
    case 'deleteRemote':
      return `delete in sandbox ${a.path}`;
    case 'deleteLocal':
      return `delete here ${a.path}`;
    case 'renameRemote':
      return `rename in sandbox ${a.from} -> ${a.to}`;
    case 'renameLocal':
      return `rename here ${a.from} -> ${a.to}`;
    default:
      return undefined;
  }
}

/**
 * Carries out one action and records its outcome in the base and trees. A file that
 * vanished or changed under our feet is left for the next pass: the base only records
 * what was actually copied.
 */
export async function applyAction(sides: SyncSides, a: SyncAction, counts: SyncCounts): Promise<void> {
  const { files, base, local, remote } = sides;
  const remotePath = (rel: string) => posix.join(sides.remoteRoot, rel);
  const localPath = (rel: string) => join(sides.localRoot, rel);
  const opts = sides.signal ? { signal: sides.signal } : {};
  switch (a.kind) {
    case 'renameRemote':
      await files.rename(remotePath(a.from), remotePath(a.to), opts);
      moveKeys(base, a.from, a.to);
      moveKeys(remote, a.from, a.to);
      counts.renamed++;
      return;
    case 'renameLocal':
      await rename(localPath(a.from), localPath(a.to));
      moveKeys(base, a.from, a.to);
      moveKeys(local, a.from, a.to);
      counts.renamed++;
      return;
    case 'deleteRemote':
      await files.remove(remotePath(a.path), opts).catch(ignoreCode('NOT_FOUND'));
      deleteKeys(base, a.path);
      deleteKeys(remote, a.path);
      counts.deleted++;
      return;
    case 'deleteLocal':
      await rm(localPath(a.path), { recursive: true, force: true });
      deleteKeys(base, a.path);
      deleteKeys(local, a.path);
      counts.deleted++;
      return;
    case 'push': {
      const was = remote.get(a.path);
      if (was !== undefined && was.type !== a.local.type) {
        await files.remove(remotePath(a.path), opts).catch(ignoreCode('NOT_FOUND'));
        deleteKeys(remote, a.path);
      }
      // What is copied is what is there now: a file removed since the scan waits for the next pass.
      const now = await lstat(localPath(a.path)).catch(() => undefined);
      if (now === undefined || now.isDirectory() !== (a.local.type === 'dir')) return;
      const info =
        a.local.type === 'dir'
          ? await files.mkdir(remotePath(a.path), opts)
          : await files.write(remotePath(a.path), createReadStream(localPath(a.path)), {
              ...opts,
              requestTimeoutMs: 0,
            });
      const localEntry: SideEntry = {
        type: a.local.type,
        sizeBytes: a.local.type === 'dir' ? 0 : now.size,
        mtimeMs: now.mtimeMs,
        ino: now.ino,
      };
      record(sides, a.path, localEntry, remoteEntry(info));
      counts.pushed++;
      return;
    }
    case 'pull': {
      const target = localPath(a.path);
      const was = local.get(a.path);
      if (was !== undefined && was.type !== a.remote.type) {
        await rm(target, { recursive: true, force: true });
        deleteKeys(local, a.path);
      }
      if (a.remote.type === 'dir') await mkdir(target, { recursive: true });
      else if (!(await download(sides, a.path, a.remote))) return;
      const stats = await lstat(target);
      record(
        sides,
        a.path,
        {
          type: a.remote.type,
          sizeBytes: a.remote.type === 'dir' ? 0 : stats.size,
          mtimeMs: stats.mtimeMs,
          ino: stats.ino,
        },
        a.remote,
      );
      counts.pulled++;
      return;
    }
    case 'adopt':
      record(sides, a.path, a.local, a.remote);
      return;
    case 'forget':
      base.delete(a.path);
      return;
  }
}

function record(sides: SyncSides, path: string, localEntry: SideEntry, remoteSide: SideEntry): void {
  sides.base.set(path, { type: localEntry.type, local: localEntry, remote: remoteSide });
  sides.local.set(path, localEntry);
  sides.remote.set(path, remoteSide);
}

/**
 * Downloads into a temp file beside the target and renames it in place, stamped with the
 * sandbox's mtime (so "last writer" compares like with like). False when the file is gone.
 */
async function download(sides: SyncSides, rel: string, remoteSide: SideEntry): Promise<boolean> {
  const target = join(sides.localRoot, rel);
  await mkdir(dirname(target), { recursive: true });
  const temp = join(dirname(target), `.${posix.basename(rel)}.paddock-partial`);
  try {
    const stream = await sides.files.read(posix.join(sides.remoteRoot, rel), {
      format: 'stream',
      requestTimeoutMs: 0,
      ...(sides.signal ? { signal: sides.signal } : {}),
    });
    await pipeline(stream, createWriteStream(temp));
    const mtime = new Date(remoteSide.mtimeMs);
    await utimes(temp, mtime, mtime);
    await rename(temp, target);
    return true;
  } catch (err) {
    await rm(temp, { force: true });
    if ((err as { code?: string }).code === 'NOT_FOUND') return false;
    throw err;
  }
}

function ignoreCode(code: string): (err: unknown) => undefined {
  return (err) => {
    if ((err as { code?: string }).code === code) return undefined;
    throw err;
  };
}
