/**
 * Step layers, by cache key: `<buildCache>/<key>/layer` is the upper dir a step left. An entry is
 * made in a scratch dir (`<key>.tmp-<random>`) and renamed into place, so a dir named by a bare
 * key is always complete. The entry dir's mtime records its last use (for pruning).
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rename, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataPaths } from '../../paths.js';
import { removeTree } from '../layout.js';
import { runProcess } from '../process.js';

const KEY = /^[0-9a-f]{64}$/;
const SCRATCH = /^([0-9a-f]{64}|view)\.tmp-[0-9a-f]+$/;

export function cacheEntry(paths: DataPaths, key: string): string {
  if (!KEY.test(key)) throw new Error(`not a build cache key: ${key}`);
  return join(paths.buildCache, key);
}

/** The layer dir of a cached step, or undefined; a hit counts as a use. */
export async function cachedLayer(paths: DataPaths, key: string): Promise<string | undefined> {
  const entry = cacheEntry(paths, key);
  const st = await lstat(join(entry, 'layer')).catch(() => undefined);
  if (st === undefined || !st.isDirectory()) return undefined;
  const now = new Date();
  await utimes(entry, now, now).catch(() => {});
  return join(entry, 'layer');
}

/** A fresh scratch dir for building the entry `key` (or for a read-only view, with `key` 'view'). */
export async function newScratch(paths: DataPaths, key: string): Promise<string> {
  await mkdir(paths.buildCache, { recursive: true, mode: 0o700 });
  const dir = join(paths.buildCache, `${key}.tmp-${randomBytes(6).toString('hex')}`);
  await mkdir(dir, { mode: 0o700 });
  return dir;
}

/**
 * Moves `scratch` (holding `layer/`) into place as the entry for `key`. Another build that made
 * the same entry first wins; its copy is as good, so ours goes.
 */
export async function commitLayer(paths: DataPaths, options: { key: string; scratch: string }): Promise<string> {
  const entry = cacheEntry(paths, options.key);
  try {
    await rename(options.scratch, entry);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err;
    await removeTree(options.scratch);
  }
  return join(entry, 'layer');
}

/** Removes what crashed builds left (`*.tmp-*` dirs, mounts below them). Call at server start. */
export async function removeStaleBuildScratch(paths: DataPaths): Promise<string[]> {
  const names = await readdir(paths.buildCache).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names.filter((n) => SCRATCH.test(n))) {
    await removeTree(join(paths.buildCache, name));
    removed.push(name);
  }
  return removed;
}

export interface PruneOptions {
  /** Entries unused for longer go. */
  maxAgeMs: number;
  /** Then the least recently used go until the cache is at most this big. */
  maxBytes: number;
  signal?: AbortSignal;
  /** For tests: the current time. */
  nowMs?: number;
}

/**
 * Drops cache entries not used for `maxAgeMs`, then the least recently used beyond `maxBytes`.
 * Entries are renamed to a scratch name first, so a removal cut short never leaves a half entry.
 */
export async function pruneBuildCache(paths: DataPaths, options: PruneOptions): Promise<string[]> {
  const now = options.nowMs ?? Date.now();
  const names = (await readdir(paths.buildCache).catch(() => [] as string[])).filter((n) => KEY.test(n));
  const entries: { key: string; usedMs: number; bytes: number }[] = [];
  for (const key of names) {
    const st = await lstat(join(paths.buildCache, key)).catch(() => undefined);
    if (st === undefined) continue;
    entries.push({ key, usedMs: st.mtimeMs, bytes: await diskUsage(join(paths.buildCache, key), options.signal) });
  }
  entries.sort((a, b) => a.usedMs - b.usedMs);
  let total = entries.reduce((sum, e) => sum + e.bytes, 0);
  const removed: string[] = [];
  for (const entry of entries) {
    if (now - entry.usedMs <= options.maxAgeMs && total <= options.maxBytes) break;
    const doomed = join(paths.buildCache, `${entry.key}.tmp-${randomBytes(6).toString('hex')}`);
    await rename(join(paths.buildCache, entry.key), doomed);
    await removeTree(doomed);
    total -= entry.bytes;
    removed.push(entry.key);
  }
  return removed;
}

async function diskUsage(dir: string, signal: AbortSignal | undefined): Promise<number> {
  const result = await runProcess({ file: 'du', args: ['-s', '-x', '--block-size=1', '--', dir], signal });
  return Number.parseInt(result.tail[0]?.split('\t')[0] ?? '0', 10) || 0;
}
