import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sandboxTargetOf } from '../../packages/server/src/ports/sandbox-traffic.js';

describe('sandbox traffic routing', () => {
  it('routes by a {port}-{id}.{domain} Host', () => {
    assert.deepEqual(sandboxTargetOf({ host: '3000-abc123.localhost:7070' }), {
      sandboxId: 'abc123',
      port: 3000,
      via: 'host',
    });
  });

  it('routes by Paddock or E2B headers, which win over the Host', () => {
    const byPaddock = { host: '3000-abc.localhost', 'x-paddock-sandbox': 'xyz', 'x-paddock-port': '8080' };
    assert.deepEqual(sandboxTargetOf(byPaddock), { sandboxId: 'xyz', port: 8080, via: 'header' });
    const byE2b = { host: 'localhost:7070', 'e2b-sandbox-id': 'xyz', 'e2b-sandbox-port': '49983' };
    assert.deepEqual(sandboxTargetOf(byE2b), { sandboxId: 'xyz', port: 49983, via: 'header' });
  });

  it('leaves control-API traffic alone', () => {
    assert.equal(sandboxTargetOf({ host: 'localhost:7070' }), undefined);
    assert.equal(sandboxTargetOf({ host: 'api.localhost:7070' }), undefined);
    assert.equal(sandboxTargetOf({ host: '127.0.0.1:7070' }), undefined);
    assert.equal(sandboxTargetOf({}), undefined);
  });

  it('ignores malformed sandbox headers instead of guessing', () => {
    assert.equal(sandboxTargetOf({ 'x-paddock-sandbox': 'Bad-Id', 'x-paddock-port': '80' }), undefined);
    assert.equal(sandboxTargetOf({ 'x-paddock-sandbox': 'abc', 'x-paddock-port': 'eighty' }), undefined);
    assert.equal(sandboxTargetOf({ host: 'x3000-abc.localhost' }), undefined);
  });
});
