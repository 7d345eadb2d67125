import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withLayoutLock } from '../../packages/server/src/templates/images/layout-lock.js';

describe('withLayoutLock', () => {
  it('runs holders of one layout one after another, other layouts beside them', async () => {
    const order: string[] = [];
    let releaseFirst = (): void => {};
    const first = withLayoutLock('/l', async () => {
      order.push('first start');
      await new Promise<void>((resolve) => {
        releaseFirst = resolve;
      });
      order.push('first end');
    });
    const second = withLayoutLock('/l/', async () => order.push('second'));
    await withLayoutLock('/other', async () => order.push('other'));
    releaseFirst();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['first start', 'other', 'first end', 'second']);
  });

  it('gives up a waiting place on abort with the reason; those behind still run in turn', async () => {
    let releaseFirst = (): void => {};
    const first = withLayoutLock('/m', () => new Promise<void>((resolve) => (releaseFirst = resolve)));
    const controller = new AbortController();
    const waiting = withLayoutLock('/m', async () => 'never', controller.signal);
    let thirdRan = false;
    const third = withLayoutLock('/m', async () => {
      thirdRan = true;
    });
    const reason = new Error('stop');
    controller.abort(reason);
    await assert.rejects(waiting, (error) => error === reason);
    assert.equal(thirdRan, false);
    releaseFirst();
    await Promise.all([first, third]);
    assert.equal(thirdRan, true);
  });
});
