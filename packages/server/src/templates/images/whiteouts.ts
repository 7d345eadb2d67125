/**
 * OCI whiteouts (image-spec layer.md): `.wh.NAME` deletes NAME of the layers below; a
 * `.wh..wh..opq` file makes its directory opaque, i.e. hides what the layers below put in it
 * (not what its own layer adds, whichever order the tar lists them in). Whiteout files never
 * appear in the result.
 */
import { lstatSync, readdirSync, rmSync, unlinkSync } from 'node:fs';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

export type Whiteout = { kind: 'opaque' } | { kind: 'remove'; name: string } | { kind: 'meta' };

/** What a base name means as a whiteout, or `undefined` for an ordinary name. */
export function parseWhiteout(base: string): Whiteout | undefined {
  if (!base.startsWith(WHITEOUT_PREFIX)) return undefined;
  if (base === OPAQUE_MARKER) return { kind: 'opaque' };
  // Other `.wh..wh.*` names are aufs bookkeeping (hard-link dirs, …): not part of the tree.
  if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return { kind: 'meta' };
  const name = base.slice(WHITEOUT_PREFIX.length);
  return name === '' || name === '.' || name === '..' ? { kind: 'meta' } : { kind: 'remove', name };
}

export type Removed = 'dir' | 'symlink' | 'other';

/** Removes whatever is at `abs` without following it; says what was there (`undefined`: nothing). */
export function removePath(abs: string): Removed | undefined {
  const st = lstatSync(abs, { throwIfNoEntry: false });
  if (st === undefined) return undefined;
  if (st.isDirectory()) {
    // rmSync's recursion lstat()s and unlinks links: it never descends through a symlink.
    rmSync(abs, { recursive: true, force: true });
    return 'dir';
  }
  unlinkSync(abs);
  return st.isSymbolicLink() ? 'symlink' : 'other';
}

export interface OpaqueOptions {
  /** Real path of the opaque directory; `rel` is the same relative to the target root. */
  abs: string;
  rel: string;
  /** Paths (relative to the root) written by the current layer: these stay. */
  keep: ReadonlySet<string>;
  /** Called for each removed path (relative to the root). */
  onRemove: (rel: string, what: Removed) => void;
}

/** Empties an opaque directory of what lower layers put there, keeping this layer's entries. */
export function applyOpaque(options: OpaqueOptions): void {
  for (const dirent of readdirSync(options.abs, { withFileTypes: true })) {
    const rel = options.rel === '' ? dirent.name : `${options.rel}/${dirent.name}`;
    const abs = `${options.abs}/${dirent.name}`;
    if (!options.keep.has(rel)) {
      const what = removePath(abs);
      if (what !== undefined) options.onRemove(rel, what);
    } else if (dirent.isDirectory()) {
      // A directory this layer (re)wrote keeps only what this layer put below it.
      applyOpaque({ ...options, abs, rel });
    }
  }
}
