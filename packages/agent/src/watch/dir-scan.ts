import { lstatSync, readdirSync, type Stats, statSync } from 'node:fs';
import { posix } from 'node:path';
import type { FileType } from '@paddock/protocol';

/** What the watcher remembers of one directory entry: enough to see writes and renames. */
export interface EntryInfo {
  ino: number;
  fileType: FileType;
  sizeBytes: number;
  mtimeMs: number;
}

/** One directory's listing, with what is needed to tell later whether it may have changed. */
export interface DirScan {
  entries: Map<string, EntryInfo>;
  /** The directory's own mtime, read before its entries: any later change bumps it. */
  mtimeMs: number;
  /** Wall-clock time the scan started. */
  startedAtMs: number;
}

/** Entries lstat'ed between two turns of the event loop, so a huge directory does not stall the agent. */
const ENTRIES_PER_TURN = 2_000;

/**
 * The agent's own upload temp files (files-write.ts) are not reported: a `files.write`
 * shows as the create (or write) of its target, not as a temp file renamed over it.
 */
const AGENT_TEMP_SUFFIX = '.paddock-tmp';

/** Errors meaning "this directory is not there (any more)". */
const GONE = new Set(['ENOENT', 'ENOTDIR']);

export function entryOf(stats: Stats): EntryInfo {
  return {
    ino: stats.ino,
    fileType: stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'symlink' : 'other',
    sizeBytes: stats.size,
    mtimeMs: stats.mtimeMs,
  };
}

/**
 * Lists `dir` with an lstat of every entry (symlinks are reported, never followed).
 * Resolves undefined when the directory is gone. Synchronous calls in slices: an lstat is
 * a microsecond or two, far less than a promise round trip through the thread pool.
 */
export async function scanDir(dir: string): Promise<DirScan | undefined> {
  const startedAtMs = Date.now();
  let mtimeMs: number;
  let names: string[];
  try {
    const stats = statSync(dir);
    if (!stats.isDirectory()) return undefined;
    mtimeMs = stats.mtimeMs;
    names = readdirSync(dir);
  } catch (err) {
    if (GONE.has((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw err;
  }
  const entries = new Map<string, EntryInfo>();
  for (let i = 0; i < names.length; i++) {
    if (i > 0 && i % ENTRIES_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
    const name = names[i] as string;
    if (name.endsWith(AGENT_TEMP_SUFFIX)) continue;
    // Entries that vanish while we look are simply not there.
    const stats = lstatSync(posix.join(dir, name), { throwIfNoEntry: false });
    if (stats !== undefined) entries.set(name, entryOf(stats));
  }
  return { entries, mtimeMs, startedAtMs };
}

/** The directory's mtime now, or undefined when it is gone. */
export function dirMtimeMs(dir: string): number | undefined {
  try {
    const stats = statSync(dir, { throwIfNoEntry: false });
    return stats?.isDirectory() ? stats.mtimeMs : undefined;
  } catch (err) {
    if (GONE.has((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw err;
  }
}
