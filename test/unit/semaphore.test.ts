import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Semaphore } from '../../packages/server/src/core/semaphore.js';

describe('Semaphore', () => {
  it('runs at most `limit` tasks at once, in arrival order, and lets an aborted waiter go', async () => {
    const sem = new Semaphore(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    const gates: (() => void)[] = [];
    const task = (n: number) => () =>
      new Promise<number>((resolve) => {
        active++;
        peak = Math.max(peak, active);
        order.push(n);
        gates.push(() => {
          active--;
          resolve(n);
        });
      });
    const controller = new AbortController();
    const runs = [sem.run(task(1)), sem.run(task(2)), sem.run(task(3), controller.signal), sem.run(task(4))];
    controller.abort(new Error('gave up'));
    await assert.rejects(runs[2]!, /gave up/);
    while (gates.length > 0 || order.length < 3) {
      await new Promise((r) => setImmediate(r));
      gates.shift()?.();
    }
    assert.deepEqual(await Promise.all([runs[0], runs[1], runs[3]]), [1, 2, 4]);
    assert.deepEqual(order, [1, 2, 4]);
    assert.equal(peak, 2);
  });
});
