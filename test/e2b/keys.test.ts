import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '@paddock/server';
// The real, unmodified SDK, pinned in the root package.json: e2b 2.51.0.
import { AuthenticationError, Sandbox } from 'e2b';
import { ensureApiKey } from '../../packages/server/src/api/auth.js';
import { SqliteStore } from '../../packages/server/src/store/sqlite-store.js';
import { runCli } from '../support/cli.js';
import { ServerProcess } from '../support/server-process.js';

const PINNED = { e2b: '2.51.0' } as const;
const E2B_KEY = `e2b_${randomBytes(20).toString('hex')}`;
const server = new ServerProcess(19_000 + (process.pid % 1000), E2B_KEY);
const scratch = mkdtempSync(join(tmpdir(), 'paddock-e2b-keys-'));

before(async () => {
  await server.start();
  process.env.E2B_API_URL = server.url;
  process.env.E2B_SANDBOX_URL = server.url;
  process.env.E2B_DOMAIN = `localhost:${server.port}`;
});

after(async () => {
  await server.stop('SIGTERM');
  rmSync(scratch, { recursive: true, force: true });
});

describe(`API keys in E2B's format (e2b ${PINNED.e2b})`, () => {
  it('`paddock serve --api-key e2b_…` serves the E2B SDK with that key, and only that key', {
    timeout: 60_000,
  }, async () => {
    process.env.E2B_API_KEY = E2B_KEY;
    const sbx = await Sandbox.create({ timeoutMs: 60_000 });
    try {
      assert.equal((await sbx.commands.run('echo ok')).stdout, 'ok\n');
    } finally {
      await sbx.kill();
    }
    process.env.E2B_API_KEY = `e2b_${'0'.repeat(40)}`;
    await assert.rejects(Sandbox.list().nextItems(), AuthenticationError);
    // The same key works for Paddock's own API.
    const ours = await fetch(`${server.url}/v1/sandboxes`, { headers: { authorization: `Bearer ${E2B_KEY}` } });
    assert.equal(ours.status, 200);
  });

  it('generates the first-start key as e2b_ + 40 hex when asked (PADDOCK_API_KEY_FORMAT=e2b)', () => {
    assert.equal(loadConfig({}, { PADDOCK_API_KEY_FORMAT: 'e2b' }).apiKeyFormat, 'e2b');
    assert.equal(loadConfig({}, {}).apiKeyFormat, 'paddock');
    assert.throws(() => loadConfig({}, { PADDOCK_API_KEY_FORMAT: 'uuid' }), /API key format/);
    const store = new SqliteStore(join(scratch, 'keys.db'));
    try {
      const key = ensureApiKey(store, undefined, 'e2b');
      assert.match(key ?? '', /^e2b_[0-9a-f]{40}$/, 'the Python SDK checks ^e2b_[0-9a-f]+$');
      assert.equal(ensureApiKey(store, undefined, 'e2b'), undefined, 'generated once, on first start');
    } finally {
      store.close();
    }
  });

  it('`paddock serve --api-key-format` reaches the config (a bad value is refused by name)', {
    timeout: 60_000,
  }, async () => {
    const result = await runCli(['serve', '--api-key-format', 'uuid', '--data-dir', scratch, '--port', '0']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /API key format must be 'paddock' or 'e2b'/);
  });
});
