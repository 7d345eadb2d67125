import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectSecret } from '../../packages/sdk/src/cli/secret-option.js';

describe('paddock sandbox create --secret', () => {
  it('parses NAME=VALUE@host1,host2 (the last @ separates the hosts)', () => {
    assert.deepEqual(collectSecret('K=p@ss@a.test,*.b.test', {}, {}), {
      K: { value: 'p@ss', hosts: ['a.test', '*.b.test'] },
    });
  });

  it('reads the value from $NAME when only NAME@hosts is given, and accumulates', () => {
    const first = collectSecret('A=1@a.test', {}, {});
    assert.deepEqual(collectSecret('TOKEN@api.test', first, { TOKEN: 'from-env' }), {
      A: { value: '1', hosts: ['a.test'] },
      TOKEN: { value: 'from-env', hosts: ['api.test'] },
    });
  });

  it('refuses a missing host list, a missing value and an unset variable', () => {
    assert.throws(() => collectSecret('K=v', {}, {}), /NAME=VALUE@host/);
    assert.throws(() => collectSecret('K=v@', {}, {}), /at least one host/);
    assert.throws(() => collectSecret('K@a.test', {}, {}), /\$K is not set/);
  });
});
