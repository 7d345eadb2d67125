import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Found, planBatch } from '../../packages/agent/src/watch/batch-plan.js';

const f = (path: string, ino: number, sizeBytes = 1, fileType: 'file' | 'dir' = 'file'): Found => ({
  path,
  info: { ino, fileType, sizeBytes, mtimeMs: 1 },
});
const none = () => [];

describe('watch batch planning', () => {
  it('turns a vanished inode that reappears elsewhere into a rename, with a write if it changed', () => {
    const plan = planBatch({ removed: [f('/a', 1)], created: [f('/b', 1, 9)], written: [] }, none);
    assert.deepEqual(
      plan.renames.map((r) => [r.from.path, r.to.path]),
      [['/a', '/b']],
    );
    assert.deepEqual(
      plan.writes.map((w) => w.path),
      ['/b'],
    );
    assert.deepEqual(plan.removes, []);
    assert.deepEqual(plan.creates, []);
  });

  it('orders a chain of renames so that it replays (b→c before a→b)', () => {
    const plan = planBatch({ removed: [f('/a', 1), f('/b', 2)], created: [f('/b', 1), f('/c', 2)], written: [] }, none);
    assert.deepEqual(
      plan.renames.map((r) => `${r.from.path}->${r.to.path}`),
      ['/b->/c', '/a->/b'],
    );
  });

  it('reports a swap (a cycle) as removes and creates', () => {
    const plan = planBatch({ removed: [f('/a', 1), f('/b', 2)], created: [f('/a', 2), f('/b', 1)], written: [] }, none);
    assert.deepEqual(plan.renames, []);
    assert.deepEqual(plan.removes.map((r) => r.path).sort(), ['/a', '/b']);
    assert.deepEqual(plan.creates.map((c) => c.path).sort(), ['/a', '/b']);
  });

  it('reports a file replaced by a new inode in place (temp + rename) as a write', () => {
    const plan = planBatch({ removed: [f('/x', 1)], created: [f('/x', 2)], written: [] }, none);
    assert.deepEqual(
      plan.writes.map((w) => w.path),
      ['/x'],
    );
    assert.deepEqual([plan.removes, plan.creates, plan.renames], [[], [], []]);
  });

  it('finds a file moved out of a directory removed in the same batch, and removes the rest first', () => {
    const inside = (dir: string) => (dir === '/d' ? [f('/d/keep', 7), f('/d/gone', 8)] : []);
    const plan = planBatch({ removed: [f('/d', 3, 0, 'dir')], created: [f('/kept', 7)], written: [] }, inside);
    assert.deepEqual(
      plan.renames.map((r) => `${r.from.path}->${r.to.path}`),
      ['/d/keep->/kept'],
    );
    assert.deepEqual(
      plan.removes.map((r) => r.path),
      ['/d/gone', '/d'],
    );
  });
});
