import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type OutputEntry, OutputLog } from '../../packages/agent/src/processes/output-log.js';

const bytes = (text: string) => Buffer.from(text);
const text = (entries: OutputEntry<string>[]) =>
  entries.map((e) => (e.type === 'data' ? `${e.stream}@${e.offset}:${e.data}` : `gap ${e.fromOffset}-${e.toOffset}`));

describe('OutputLog', () => {
  it('gives one offset sequence across streams and reads from any offset', () => {
    const log = new OutputLog({ capacityBytes: 100 });
    assert.equal(log.append('stdout', bytes('abc')), 0);
    assert.equal(log.append('stderr', bytes('de')), 3);
    assert.equal(log.append('stdout', bytes('')), 5);
    assert.equal(log.append('stdout', bytes('f')), 5);
    assert.deepEqual(text(log.read(0)), ['stdout@0:abc', 'stderr@3:de', 'stdout@5:f']);
    assert.deepEqual(text(log.read(1)), ['stdout@1:bc', 'stderr@3:de', 'stdout@5:f']);
    assert.deepEqual(text(log.read(4)), ['stderr@4:e', 'stdout@5:f']);
    assert.deepEqual(text(log.read(6)), []);
    assert.throws(() => log.read(7), RangeError);
    assert.throws(() => log.read(-1), RangeError);
  });

  it('keeps only the newest bytes and marks the gap for a reader that fell behind', () => {
    const log = new OutputLog({ capacityBytes: 4 });
    log.append('stdout', bytes('abc'));
    log.append('stderr', bytes('def'));
    assert.equal(log.startOffset, 2);
    assert.equal(log.endOffset, 6);
    assert.deepEqual(text(log.read(0)), ['gap 0-2', 'stdout@2:c', 'stderr@3:def']);
    assert.deepEqual(text(log.read(2)), ['stdout@2:c', 'stderr@3:def']);
    log.append('stdout', bytes('0123456789'));
    assert.deepEqual(text(log.read(3)), ['gap 3-12', 'stdout@12:6789']);
  });

  it('stays exact through many small appends (compaction)', () => {
    const log = new OutputLog({ capacityBytes: 1000 });
    let all = '';
    for (let i = 0; i < 10_000; i++) {
      const piece = String(i % 10);
      all += piece;
      log.append(i % 3 === 0 ? 'stderr' : 'stdout', bytes(piece));
    }
    const entries = log.read(log.startOffset);
    const joined = entries.map((e) => (e.type === 'data' ? e.data.toString() : '?')).join('');
    assert.equal(joined, all.slice(-1000));
    assert.equal(log.startOffset, 9000);
  });

  it('follows: replays, then yields live data to several readers, and ends at close', async () => {
    const log = new OutputLog({ capacityBytes: 100 });
    log.append('stdout', bytes('a'));
    const readAll = async (from: number) => {
      const seen: string[] = [];
      for await (const entry of log.follow(from)) seen.push(...text([entry]));
      return seen;
    };
    const first = readAll(0);
    const second = readAll(1);
    await Promise.resolve();
    log.append('stderr', bytes('b'));
    log.append('stdout', bytes('c'));
    log.close();
    assert.deepEqual(await first, ['stdout@0:a', 'stderr@1:b', 'stdout@2:c']);
    assert.deepEqual(await second, ['stderr@1:b', 'stdout@2:c']);
  });

  it('stops following with the signal reason', async () => {
    const log = new OutputLog({ capacityBytes: 10 });
    const controller = new AbortController();
    const reading = (async () => {
      for await (const _ of log.follow(0, controller.signal)) {
        // nothing arrives
      }
    })();
    const reason = new Error('stop');
    controller.abort(reason);
    await assert.rejects(reading, (err) => err === reason);
  });
});
