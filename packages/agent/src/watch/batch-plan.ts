import type { EntryInfo } from './dir-scan.js';

/** An entry at a path, as one of two snapshots saw it. */
export interface Found {
  path: string;
  info: EntryInfo;
}

/** What rescanning the dirty directories of one batch found, directory by directory. */
export interface BatchChanges {
  /** Entries gone from their directory, or replaced there by another inode. */
  removed: Found[];
  /** Entries new in a directory that existed before (replacements included). */
  created: Found[];
  /** Same inode, new size or mtime (or reported modified by the kernel). */
  written: Found[];
}

/** The events of one batch, in an order that replays to the new state. */
export interface BatchPlan {
  /** Contents of directories that a rename overwrote: reported removed before the renames. */
  overwritten: Found[];
  renames: { from: Found; to: Found }[];
  /** Removed entries, contents before their directory. */
  removes: Found[];
  /** New entries (their directories' contents are the caller's to add: it scans them). */
  creates: Found[];
  writes: Found[];
}

/**
 * Turns one batch of per-directory differences into events. Renames are recognised by
 * inode: an entry that appeared where another one with the same inode and type vanished
 * moved there (also out of a removed directory). Renames are ordered so that a chain
 * (`b→c`, then `a→b`) replays right; a cycle (a swap) is reported as removes and creates.
 * `descendants` lists what the previous snapshot knew under a directory, parents first.
 */
export function planBatch(changes: BatchChanges, descendants: (dir: string) => Found[]): BatchPlan {
  const removedAt = new Map(changes.removed.map((r) => [r.path, r]));
  const sources = new Set<string>();
  const targets = new Set<string>();
  const renames: { from: Found; to: Found }[] = [];
  const match = (pool: Map<number, Found>) => {
    for (const to of changes.created) {
      if (targets.has(to.path)) continue;
      const from = pool.get(to.info.ino);
      if (from === undefined || sources.has(from.path) || from.info.fileType !== to.info.fileType) continue;
      if (from.path === to.path) continue;
      renames.push({ from, to });
      sources.add(from.path);
      targets.add(to.path);
    }
  };
  match(new Map(changes.removed.map((r) => [r.info.ino, r])));
  // A file moved out of a directory that was then removed, within one batch.
  const insideRemoved = new Map<number, Found>();
  for (const r of changes.removed) {
    if (r.info.fileType !== 'dir' || sources.has(r.path)) continue;
    for (const d of descendants(r.path)) insideRemoved.set(d.info.ino, d);
  }
  if (insideRemoved.size > 0) match(insideRemoved);

  const ordered = orderRenames(renames);
  const removes: Found[] = [];
  const creates: Found[] = [];
  const writes: Found[] = [];
  for (const { from, to } of ordered.cycle) {
    removes.push(from);
    creates.push(to);
  }
  const removeTree = (r: Found, into: Found[]) => {
    if (r.info.fileType === 'dir') {
      for (const d of descendants(r.path).reverse()) if (!sources.has(d.path)) into.push(d);
    }
    into.push(r);
  };

  // An entry a rename landed on is overwritten: its contents go first, it goes implicitly.
  const overwritten: Found[] = [];
  for (const { to } of ordered.renames) {
    const replaced = removedAt.get(to.path);
    if (replaced !== undefined && !sources.has(replaced.path) && replaced.info.fileType === 'dir') {
      for (const d of descendants(replaced.path).reverse()) if (!sources.has(d.path)) overwritten.push(d);
    }
  }
  for (const { from, to } of ordered.renames) {
    if (to.info.fileType === 'file' && changedContent(from, to)) writes.push(to);
  }

  const createdAt = new Set(changes.created.map((c) => c.path));
  for (const r of changes.removed) {
    if (sources.has(r.path) || targets.has(r.path)) continue;
    // Replaced by a new inode of the same kind (a file written by temp + rename): a write.
    const replacement = createdAt.has(r.path) ? changes.created.find((c) => c.path === r.path) : undefined;
    if (replacement !== undefined && !targets.has(replacement.path) && sameKindOfLeaf(r, replacement)) continue;
    removeTree(r, removes);
  }
  for (const c of changes.created) {
    if (targets.has(c.path) || ordered.cycle.some((x) => x.to === c)) continue;
    const replaced = removedAt.get(c.path);
    if (replaced !== undefined && !sources.has(replaced.path) && sameKindOfLeaf(replaced, c)) writes.push(c);
    else creates.push(c);
  }
  writes.push(...changes.written.filter((w) => !targets.has(w.path)));
  return { overwritten, renames: ordered.renames, removes, creates, writes };
}

function changedContent(a: Found, b: Found): boolean {
  return a.info.sizeBytes !== b.info.sizeBytes || a.info.mtimeMs !== b.info.mtimeMs;
}

function sameKindOfLeaf(a: Found, b: Found): boolean {
  return a.info.fileType === b.info.fileType && a.info.fileType !== 'dir';
}

/**
 * Orders renames so that none moves onto a path that a later one still has to move away;
 * what cannot be ordered (a cycle) is returned apart.
 */
function orderRenames(renames: { from: Found; to: Found }[]): {
  renames: { from: Found; to: Found }[];
  cycle: { from: Found; to: Found }[];
} {
  const pending = [...renames];
  const out: { from: Found; to: Found }[] = [];
  while (pending.length > 0) {
    const stillSources = new Set(pending.map((r) => r.from.path));
    const ready = pending.filter((r) => !stillSources.has(r.to.path) || r.to.path === r.from.path);
    if (ready.length === 0) return { renames: out, cycle: pending };
    for (const r of ready) {
      out.push(r);
      pending.splice(pending.indexOf(r), 1);
    }
  }
  return { renames: out, cycle: [] };
}
