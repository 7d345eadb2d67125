import type { Base } from './sync-state.js';
import type { SideEntry, Tree } from './tree.js';

/** One step of a sync. Paths are relative to the synced directories. */
export type SyncAction =
  | { kind: 'renameRemote'; from: string; to: string }
  | { kind: 'renameLocal'; from: string; to: string }
  | { kind: 'deleteRemote'; path: string }
  | { kind: 'deleteLocal'; path: string }
  | { kind: 'push'; path: string; local: SideEntry }
  | { kind: 'pull'; path: string; remote: SideEntry }
  /** Both sides already agree: only the base learns it. */
  | { kind: 'adopt'; path: string; local: SideEntry; remote: SideEntry }
  /** Gone on both sides: only the base forgets it. */
  | { kind: 'forget'; path: string };

export interface SyncPlan {
  /** In order: renames, deletes (contents first), then copies (parents first), then base-only steps. */
  actions: SyncAction[];
  /** One line per conflict, saying which side won and why. */
  conflicts: string[];
}

/** How one side's entry compares with the base. */
type Change = 'same' | 'changed' | 'new' | 'deleted' | 'absent';

function changeOf(base: SideEntry | undefined, now: SideEntry | undefined): Change {
  if (base === undefined) return now === undefined ? 'absent' : 'new';
  if (now === undefined) return 'deleted';
  if (now.type !== base.type) return 'changed';
  if (now.type === 'dir') return 'same';
  return now.sizeBytes === base.sizeBytes && now.mtimeMs === base.mtimeMs ? 'same' : 'changed';
}

const edited = (c: Change) => c === 'changed' || c === 'new';
const untouched = (c: Change) => c === 'same' || c === 'absent';

/**
 * Plans a two-way sync from the base (both sides at the last sync) and both current
 * trees. Pure: nothing is read or written. The rules (docs/sync.md):
 * - a change on one side only is copied to the other; a delete on one side only is deleted
 *   on the other; a rename on one side (same inode locally, same size and mtime remotely) is
 *   renamed on the other;
 * - changed on both sides: the later mtime wins (a tie goes to the local copy); an edit
 *   beats a delete; a directory beats a file. Each of these is reported as a conflict.
 */
export function planSync(base: Base, local: Tree, remote: Tree): SyncPlan {
  const b: Base = new Map(base);
  const l: Tree = new Map(local);
  const r: Tree = new Map(remote);
  const renames = findRenames(b, l, r);
  const conflicts: string[] = [];
  const deletes: SyncAction[] = [];
  const copies: SyncAction[] = [];
  const bookkeeping: SyncAction[] = [];

  const paths = [...new Set([...b.keys(), ...l.keys(), ...r.keys()])].sort();
  for (const path of paths) {
    const le = l.get(path);
    const re = r.get(path);
    const L = changeOf(b.get(path)?.local, le);
    const R = changeOf(b.get(path)?.remote, re);
    if (L === 'same' && R === 'same') continue;
    if ((L === 'deleted' || L === 'absent') && (R === 'deleted' || R === 'absent')) {
      bookkeeping.push({ kind: 'forget', path });
    } else if (edited(L) && untouched(R) && le) {
      copies.push({ kind: 'push', path, local: le });
    } else if (edited(R) && untouched(L) && re) {
      copies.push({ kind: 'pull', path, remote: re });
    } else if (L === 'deleted' && R === 'same') {
      deletes.push({ kind: 'deleteRemote', path });
    } else if (R === 'deleted' && L === 'same') {
      deletes.push({ kind: 'deleteLocal', path });
    } else if (L === 'deleted' && re) {
      conflicts.push(
        `${path}: deleted here but changed in the sandbox; kept the sandbox's copy (an edit beats a delete)`,
      );
      copies.push({ kind: 'pull', path, remote: re });
    } else if (R === 'deleted' && le) {
      conflicts.push(`${path}: deleted in the sandbox but changed here; kept the local copy (an edit beats a delete)`);
      copies.push({ kind: 'push', path, local: le });
    } else if (le && re) {
      const decided = bothEdited(path, le, re, conflicts);
      (decided.kind === 'adopt' ? bookkeeping : copies).push(decided);
    }
  }
  keepEditedDirs(deletes, copies, conflicts);
  return { actions: [...renames, ...collapseDeletes(deletes), ...copies, ...bookkeeping], conflicts };
}

function bothEdited(path: string, le: SideEntry, re: SideEntry, conflicts: string[]): SyncAction {
  if (le.type === 'dir' && re.type === 'dir') return { kind: 'adopt', path, local: le, remote: re };
  if (le.type === 'file' && re.type === 'file' && le.sizeBytes === re.sizeBytes && le.mtimeMs === re.mtimeMs) {
    return { kind: 'adopt', path, local: le, remote: re };
  }
  if (le.type !== re.type) {
    const localWins = le.type === 'dir';
    conflicts.push(
      `${path}: a directory on one side, a file on the other; kept the directory (${localWins ? 'local' : 'sandbox'})`,
    );
    return localWins ? { kind: 'push', path, local: le } : { kind: 'pull', path, remote: re };
  }
  const localWins = le.mtimeMs >= re.mtimeMs;
  const when = (ms: number) => new Date(ms).toISOString();
  conflicts.push(
    `${path}: changed on both sides; kept the ${localWins ? 'local' : "sandbox's"} copy (last writer wins: local ${when(le.mtimeMs)}, sandbox ${when(re.mtimeMs)})`,
  );
  return localWins ? { kind: 'push', path, local: le } : { kind: 'pull', path, remote: re };
}

/**
 * A directory deleted on one side but with edits inside on the other is kept: its delete
 * becomes a copy back (the edits inside are copied by their own actions).
 */
function keepEditedDirs(deletes: SyncAction[], copies: SyncAction[], conflicts: string[]): void {
  for (let i = deletes.length - 1; i >= 0; i--) {
    const d = deletes[i] as Extract<SyncAction, { kind: 'deleteRemote' | 'deleteLocal' }>;
    const below = `${d.path}/`;
    const keptInside = copies.some((c) => 'path' in c && c.path.startsWith(below));
    if (!keptInside) continue;
    deletes.splice(i, 1);
    conflicts.push(`${d.path}: deleted on one side with changes inside on the other; kept the directory`);
  }
}

/** Deletes under a directory that is deleted whole are dropped; contents go before their directory. */
function collapseDeletes(deletes: SyncAction[]): SyncAction[] {
  const pathOf = (a: SyncAction) => ('path' in a ? a.path : '');
  const whole = new Set(deletes.map((d) => `${d.kind}:${pathOf(d)}`));
  const covered = (d: SyncAction) => {
    const path = pathOf(d);
    for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
      if (whole.has(`${d.kind}:${path.slice(0, i)}`)) return true;
    }
    return false;
  };
  return deletes.filter((d) => !covered(d)).reverse();
}

/** Moves `from` (and everything below it) to `to` in a tree or a base. */
export function moveKeys<V>(map: Map<string, V>, from: string, to: string): void {
  for (const [key, value] of [...map]) {
    if (key !== from && !key.startsWith(`${from}/`)) continue;
    map.delete(key);
    map.set(to + key.slice(from.length), value);
  }
}

/** Removes `path` and everything below it from a tree or a base. */
export function deleteKeys<V>(map: Map<string, V>, path: string): void {
  for (const key of [...map.keys()]) if (key === path || key.startsWith(`${path}/`)) map.delete(key);
}

/**
 * Renames on one side, to be replayed on the other. Each one found is applied to the base
 * and to the other side's tree, so the rest of the plan sees the path as already in sync.
 */
function findRenames(b: Base, l: Tree, r: Tree): SyncAction[] {
  const actions: SyncAction[] = [];
  const gone = (side: Tree, which: 'local' | 'remote') =>
    [...b.keys()].filter((p) => !side.has(p) && b.get(p)?.[which] !== undefined).sort();
  const fresh = (side: Tree) => [...side.keys()].filter((p) => !b.has(p));
  const parentOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');

  for (const from of gone(l, 'local')) {
    const was = b.get(from);
    if (was === undefined || changeOf(was.remote, r.get(from)) !== 'same') continue;
    const candidates = fresh(l).filter((to) => {
      const now = l.get(to) as SideEntry;
      if (now.type !== was.type || r.has(to)) return false;
      if (now.ino !== undefined && was.local.ino !== undefined) return now.ino === was.local.ino;
      return now.type === 'file' && now.sizeBytes === was.local.sizeBytes && now.mtimeMs === was.local.mtimeMs;
    });
    const to = candidates.length === 1 ? candidates[0] : undefined;
    if (to === undefined || !(parentOf(to) === '' || r.get(parentOf(to))?.type === 'dir')) continue;
    actions.push({ kind: 'renameRemote', from, to });
    moveKeys(b, from, to);
    moveKeys(r, from, to);
  }

  for (const from of gone(r, 'remote')) {
    const was = b.get(from);
    if (was === undefined || changeOf(was.local, l.get(from)) !== 'same') continue;
    const candidates = fresh(r).filter((to) => {
      const now = r.get(to) as SideEntry;
      if (now.type !== was.type || l.has(to)) return false;
      if (now.type === 'file') return now.sizeBytes === was.remote.sizeBytes && now.mtimeMs === was.remote.mtimeMs;
      return sameContents(b, from, r, to);
    });
    const to = candidates.length === 1 ? candidates[0] : undefined;
    if (to === undefined || !(parentOf(to) === '' || l.get(parentOf(to))?.type === 'dir')) continue;
    actions.push({ kind: 'renameLocal', from, to });
    moveKeys(b, from, to);
    moveKeys(l, from, to);
  }
  return actions;
}

/** A remote directory at `to` holds what the base knew under `from` (names, sizes, mtimes). */
function sameContents(b: Base, from: string, r: Tree, to: string): boolean {
  const signature = (entries: [string, SideEntry][], root: string) =>
    entries
      .filter(([p]) => p.startsWith(`${root}/`))
      .map(([p, e]) => `${p.slice(root.length)}|${e.type}|${e.sizeBytes}|${e.type === 'dir' ? 0 : e.mtimeMs}`)
      .sort()
      .join('\n');
  const before = signature(
    [...b].map(([p, e]) => [p, e.remote]),
    from,
  );
  return before !== '' && before === signature([...r], to);
}
