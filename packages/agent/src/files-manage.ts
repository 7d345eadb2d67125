import { cp, lchown, mkdir, rename, rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { PaddockError } from '@paddock/protocol';
import type { SandboxUser } from './users.js';

/**
 * File operations act as root of the sandbox (its user namespace), not as the requested
 * user; what they create is then chowned to that user. This is what E2B does: simple, and
 * the agent is not a security boundary (user code can reach it anyway). Reads and writes that
 * name a user are first checked against that user's permissions (file-access.ts: callers from
 * outside, such as a URL signed for `user`, get no more than that user has); other operations
 * succeed on files the user could not touch itself.
 */

/** `mkdir -p`; every directory it creates is owned by `owner`. An existing directory is fine. */
export async function ensureDir(path: string, owner: SandboxUser): Promise<void> {
  const first = await mkdir(path, { recursive: true, mode: 0o755 });
  if (first === undefined) return;
  // mkdir reports the first directory it created; all below it down to `path` are new too.
  const created: string[] = [];
  for (let dir = path; dir.length >= first.length; dir = posix.dirname(dir)) {
    created.push(dir);
    if (dir === first || dir === '/') break;
  }
  for (const dir of created) await chownTo(dir, owner);
}

/** Gives `path` to `owner`, unless the agent already is that user (unprivileged, in tests). */
export async function chownTo(path: string, owner: SandboxUser): Promise<void> {
  if (owner.uid === process.getuid?.() && owner.gid === process.getgid?.()) return;
  await lchown(path, owner.uid, owner.gid);
}

/**
 * Renames within the sandbox. Overlayfs answers EXDEV for directories of the template's
 * lower layer; those are copied, then removed.
 */
export async function renamePath(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await cp(from, to, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true, errorOnExist: true });
    await rm(from, { recursive: true });
  }
}

/** `rm -r`; refuses `/`, which would take the sandbox (and the agent) down with it. */
export async function removePath(path: string): Promise<void> {
  if (path === '/') throw new PaddockError('INVALID_ARGUMENT', '`path`: refusing to remove /', { field: 'path' });
  await rm(path, { recursive: true });
}
