import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cellDidNotRun, envChanges, envLine, withEnvLine } from '../../packages/agent/src/code/env-line.js';

describe("code runs: a kernel's environment brought to the run's", () => {
  it('writes one line per language that sets and unsets', () => {
    const changes: [string, string | undefined][] = [
      ['A', "it's"],
      ['B', undefined],
    ];
    assert.equal(
      envLine('python', changes),
      `__import__('os').environ.update({"A":"it's"}); [__import__('os').environ.pop(k, None) for k in ["B"]]`,
    );
    assert.equal(
      envLine('javascript', changes),
      `void (Object.assign(process.env, {"A":"it's"}), ["B"].forEach((k) => delete process.env[k]));`,
    );
    assert.equal(envLine('bash', changes), `export A='it'\\''s'; unset B`);
    assert.equal(envLine('python', []), '');
  });

  it('puts the line at the indentation of the code, or nothing when there is none', () => {
    assert.equal(withEnvLine('  x = 1\n  y', 'E'), '  E\n  x = 1\n  y');
    assert.equal(withEnvLine('x', ''), 'x');
    assert.ok(cellDidNotRun('SyntaxError'));
    assert.ok(!cellDidNotRun('ValueError'));
    assert.ok(!cellDidNotRun(undefined));
  });

  it("sets what is new or changed, and resets what is gone to the kernel's own value", () => {
    const base = { HOME: '/home/user', PATH: '/bin' };
    assert.deepEqual(envChanges({}, { A: '1' }, base), [['A', '1']]);
    assert.deepEqual(envChanges({ A: '1' }, { A: '1' }, base), []);
    assert.deepEqual(envChanges({ A: '1', HOME: '/tmp', constructor: 'x', KEEP: 'k' }, { KEEP: 'k', B: '2' }, base), [
      ['B', '2'],
      ['A', undefined],
      ['HOME', '/home/user'],
      ['constructor', undefined],
    ]);
    // A variable gone from the run that the kernel has anyway needs nothing.
    assert.deepEqual(envChanges({ PATH: '/bin' }, {}, base), []);
  });
});
