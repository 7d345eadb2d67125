import { constants } from 'node:fs';
import { lstat, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Creates the empty file `path` in a directory the sandbox can write (its `/run/paddock`),
 * never through a link the sandbox planted there: host root writing with a link-following
 * `writeFile` would create or truncate any host file the link names. An existing entry is
 * unlinked (unlink never follows), then the file is made with O_CREAT|O_EXCL|O_NOFOLLOW, which
 * fails rather than follow; a sandbox that keeps re-planting the name gets an error after a
 * few tries. The directories above `path` must be host-made (the sandbox cannot swap them).
 */
export async function createMarkerFile(path: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    await rm(path, { force: true });
    try {
      await (await open(path, CREATE_NEW, 0o644)).close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  throw new Error(`${path} is re-created by the sandbox as fast as it is removed; not writing through it`);
}

/** Bounds of `socketsBoundIn`: the sandbox decides how much there is to walk. */
const MAX_SCAN_DEPTH = 6;
const MAX_SCAN_ENTRIES = 5_000;

/**
 * Unix sockets bound in the host dir `dir` that the sandbox writes into (paths relative to
 * it), but not `except`. gVisor binds such sockets as host sockets, which a checkpoint cannot
 * save: runsc then panics and the sandbox dies, so the caller refuses before. The walk reads
 * names only, never follows a link (entry types come from readdir, a directory is lstat'ed
 * again before it is entered) and is bounded in depth and entries.
 */
export async function socketsBoundIn(dir: string, except: string): Promise<string[]> {
  const found: string[] = [];
  let seen = 0;
  const walk = async (rel: string, depth: number): Promise<void> => {
    const here = rel === '' ? dir : join(dir, rel);
    if (depth > MAX_SCAN_DEPTH || !(await lstat(here).catch(() => undefined))?.isDirectory()) return;
    for (const entry of await readdir(here, { withFileTypes: true }).catch(() => [])) {
      if (++seen > MAX_SCAN_ENTRIES) return;
      const path = rel === '' ? entry.name : join(rel, entry.name);
      if (entry.isSocket() && path !== except) found.push(path);
      else if (entry.isDirectory()) await walk(path, depth + 1);
    }
  };
  await walk('', 0);
  return found;
}
