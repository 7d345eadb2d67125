import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planSync, type SyncAction } from '../../packages/sdk/src/sync/plan.js';
import type { Base } from '../../packages/sdk/src/sync/sync-state.js';
import type { SideEntry, Tree } from '../../packages/sdk/src/sync/tree.js';

const file = (sizeBytes: number, mtimeMs: number, ino?: number): SideEntry => ({
  type: 'file',
  sizeBytes,
  mtimeMs,
  ...(ino === undefined ? {} : { ino }),
});
const dir = (ino?: number): SideEntry => ({
  type: 'dir',
  sizeBytes: 0,
  mtimeMs: 1,
  ...(ino === undefined ? {} : { ino }),
});

/** A base where both sides hold `entries` as given (remote mtimes shifted by 1000 ms). */
function synced(entries: Record<string, SideEntry>): { base: Base; local: Tree; remote: Tree } {
  const base: Base = new Map();
  const local: Tree = new Map();
  const remote: Tree = new Map();
  for (const [path, e] of Object.entries(entries)) {
    const r: SideEntry = { type: e.type, sizeBytes: e.sizeBytes, mtimeMs: e.mtimeMs + 1000 };
    base.set(path, { type: e.type, local: e, remote: r });
    local.set(path, e);
    remote.set(path, r);
  }
  return { base, local, remote };
}

const kinds = (actions: SyncAction[]) =>
  actions.map((a) => ('path' in a ? `${a.kind} ${a.path}` : `${a.kind} ${a.from}->${a.to}`));

describe('sync planning', () => {
  it('does nothing when both sides match the base', () => {
    const s = synced({ a: file(1, 10, 1), d: dir(2), 'd/b': file(2, 20, 3) });
    assert.deepEqual(planSync(s.base, s.local, s.remote), { actions: [], conflicts: [] });
  });

  it('copies new and changed entries each way, parents first', () => {
    const s = synced({ a: file(1, 10, 1), b: file(1, 10, 2) });
    s.local.set('a', file(5, 50, 1));
    s.local.set('n', dir(9));
    s.local.set('n/x', file(1, 60, 10));
    s.remote.set('b', file(7, 5000));
    s.remote.set('r', file(3, 3000));
    const plan = planSync(s.base, s.local, s.remote);
    assert.deepEqual(kinds(plan.actions), ['push a', 'pull b', 'push n', 'push n/x', 'pull r']);
    assert.deepEqual(plan.conflicts, []);
  });

  it('tells a delete from a new file by the base, and deletes a whole directory once', () => {
    const s = synced({
      gone: file(1, 10, 1),
      d: dir(2),
      'd/x': file(1, 10, 3),
      'd/y': file(1, 10, 4),
      kept: file(1, 1, 5),
    });
    s.local.delete('gone');
    s.remote.delete('d');
    s.remote.delete('d/x');
    s.remote.delete('d/y');
    const plan = planSync(s.base, s.local, s.remote);
    assert.deepEqual(kinds(plan.actions), ['deleteRemote gone', 'deleteLocal d']);
  });

  it('replays a rename: local by inode, remote by size and mtime, directories too', () => {
    const s = synced({ a: file(10, 100, 1), b: file(20, 200, 2), d: dir(3), 'd/x': file(5, 50, 4) });
    s.local.delete('a');
    s.local.set('a2', file(10, 100, 1));
    s.remote.set('b2', s.remote.get('b') as SideEntry);
    s.remote.delete('b');
    s.remote.set('e', dir());
    s.remote.set('e/x', s.remote.get('d/x') as SideEntry);
    s.remote.delete('d');
    s.remote.delete('d/x');
    const plan = planSync(s.base, s.local, s.remote);
    assert.deepEqual(kinds(plan.actions), ['renameRemote a->a2', 'renameLocal b->b2', 'renameLocal d->e']);
    assert.deepEqual(plan.conflicts, []);
  });

  it('resolves conflicts: last writer wins, an edit beats a delete, each one reported', () => {
    const s = synced({ both: file(1, 10, 1), delL: file(1, 10, 2), delR: file(1, 10, 3), older: file(1, 10, 4) });
    s.local.set('both', file(2, 9_000, 1));
    s.remote.set('both', file(3, 8_000));
    s.local.set('older', file(2, 2_000, 4));
    s.remote.set('older', file(3, 8_000));
    s.local.delete('delL');
    s.remote.set('delL', file(9, 9_999));
    s.remote.delete('delR');
    s.local.set('delR', file(9, 9_999, 3));
    const plan = planSync(s.base, s.local, s.remote);
    assert.deepEqual(kinds(plan.actions), ['push both', 'pull delL', 'push delR', 'pull older']);
    assert.equal(plan.conflicts.length, 4);
    assert.match(plan.conflicts[0] ?? '', /^both: changed on both sides; kept the local copy/);
  });

  it('keeps a directory deleted on one side when the other changed something inside', () => {
    const s = synced({ d: dir(1), 'd/x': file(1, 10, 2), 'd/y': file(1, 10, 3) });
    s.local.delete('d');
    s.local.delete('d/x');
    s.local.delete('d/y');
    s.remote.set('d/y', file(4, 9_000));
    const plan = planSync(s.base, s.local, s.remote);
    assert.deepEqual(kinds(plan.actions), ['deleteRemote d/x', 'pull d/y']);
    assert.ok(plan.conflicts.some((c) => c.startsWith('d: ')));
  });

  it('adopts identical entries on a first sync without copying', () => {
    const base: Base = new Map();
    const local: Tree = new Map([
      ['same', file(3, 30, 1)],
      ['d', dir(2)],
    ]);
    const remote: Tree = new Map([
      ['same', file(3, 30)],
      ['d', dir()],
    ]);
    assert.deepEqual(kinds(planSync(base, local, remote).actions), ['adopt d', 'adopt same']);
  });
});
