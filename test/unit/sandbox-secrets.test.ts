import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CommandEvent, RunCommandRequest } from '@paddock/protocol';
import { SandboxSecrets, TRUST_ENV } from '../../packages/server/src/secrets/sandbox-secrets.js';
import { SqliteStore } from '../../packages/server/src/store/sqlite-store.js';

describe('sandbox secrets (placeholders, host-side store, CA install)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secrets-unit-'));
  const store = new SqliteStore(join(dir, 'db.sqlite'));
  const tables = store.sandboxSecrets;
  const ran: RunCommandRequest[] = [];
  let exitCode = 0;
  const secrets = new SandboxSecrets({
    tables,
    certificateAuthority: async () => '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    async *exec(_id, request): AsyncIterable<CommandEvent> {
      ran.push(request);
      yield { type: 'exit', exitCode };
    },
  });
  after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives each secret its own placeholder and the trust env, never the value', () => {
    const prepared = secrets.prepare({
      env: { OTHER: '1' },
      secrets: { A: { value: 'va', hosts: ['a.test', 'a.test'] }, B: { value: 'vb', hosts: ['*.b.test'] } },
    });
    assert.ok(prepared);
    assert.match(prepared.env.A ?? '', /^paddock-secret-[0-9a-f]{24}$/);
    assert.notEqual(prepared.env.A, prepared.env.B);
    assert.equal(prepared.env.NODE_EXTRA_CA_CERTS, TRUST_ENV.NODE_EXTRA_CA_CERTS);
    assert.equal(JSON.stringify(prepared.env).includes('va'), false);
    assert.deepEqual(prepared.rules[0]?.hosts, ['a.test'], 'duplicate hosts collapse');
    assert.equal(secrets.prepare({}), undefined);
  });

  it('refuses a name given both as a secret and in env', () => {
    assert.throws(() => secrets.prepare({ env: { A: 'x' }, secrets: { A: { value: 'v', hosts: ['a.test'] } } }), {
      code: 'INVALID_ARGUMENT',
      message: /secrets\.A/,
    });
  });

  it('stores the rules, installs the CA as root with it on stdin, and forgets dead sandboxes', async () => {
    const prepared = secrets.prepare({ secrets: { A: { value: 'va', hosts: ['a.test'] } } });
    assert.ok(prepared);
    await secrets.commit('sbx1', prepared.rules);
    assert.equal(ran.at(-1)?.user, 'root');
    assert.match(Buffer.from(ran.at(-1)?.stdinBase64 ?? '', 'base64').toString(), /BEGIN CERTIFICATE/);
    assert.deepEqual(secrets.infoOf('sbx1'), [{ name: 'A', hosts: ['a.test'] }]);
    assert.equal(tables.get('sbx1')[0]?.value, 'va');
    secrets.keepOnly(new Set(['other']));
    assert.deepEqual(tables.get('sbx1'), []);
    assert.deepEqual(secrets.rulesOf('sbx1'), []);
  });

  it('fails the commit when the CA cannot be installed', async () => {
    exitCode = 1;
    const prepared = secrets.prepare({ secrets: { A: { value: 'va', hosts: ['a.test'] } } });
    assert.ok(prepared);
    await assert.rejects(secrets.commit('sbx2', prepared.rules), /installing the egress CA failed/);
    exitCode = 0;
  });
});
