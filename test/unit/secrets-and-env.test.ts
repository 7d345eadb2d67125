/**
 * Pure logic of issue 12's secrets and env items: the one env schema, the secret options and
 * their substitution rules and store, the agent's permission model for named users, the CLI flags.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CommandEnv, CreateSandboxRequest, EnvVars, SecretsRequest, TemplateSpec } from '@paddock/protocol';
import Database from 'better-sqlite3';
import { ACCESS, permits } from '../../packages/agent/src/file-access.js';
import { applySecretFlags, collectSecretHeaders } from '../../packages/sdk/src/cli/secret-option.js';
import type { SecretRule } from '../../packages/server/src/core/seams/store.js';
import { secretsFor, substituteHeaders } from '../../packages/server/src/secrets/placeholder-substitution.js';
import { SqliteStore } from '../../packages/server/src/store/sqlite-store.js';

const issuesOf = (result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  (result.error?.issues ?? []).map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));

describe('env: one schema for every place env is taken', () => {
  it('refuses NUL in values and empty, "=" or NUL names, naming the key', () => {
    for (const [env, path, pattern] of [
      [{ GOOD: 'a\0b' }, 'GOOD', /env value of "GOOD" contains a NUL/],
      [{ '': 'x' }, '', /env name "" is not valid/],
      [{ 'A=B': 'x' }, 'A=B', /env name "A=B" is not valid/],
      [{ 'A\0': 'x' }, 'A\0', /env name "A\\u0000" is not valid/],
    ] as const) {
      const issues = issuesOf(EnvVars.safeParse(env));
      assert.equal(issues.length, 1, JSON.stringify(env));
      assert.equal(issues[0]?.path, path);
      assert.match(issues[0]?.message ?? '', pattern);
    }
    assert.deepEqual(EnvVars.parse({ A: 'x=y', _B: '' }), { A: 'x=y', _B: '' });
  });

  it('is the schema of create env, command env and template env', () => {
    assert.equal(CommandEnv, EnvVars);
    const create = issuesOf(CreateSandboxRequest.safeParse({ env: { K: 'v\0' } }));
    assert.deepEqual(
      create.map((i) => i.path),
      ['env.K'],
    );
    assert.equal(TemplateSpec.safeParse({ env: { K: 'v\0' } }).success, false);
    const many = Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`K${i}`, 'v']));
    assert.match(issuesOf(CreateSandboxRequest.safeParse({ env: many }))[0]?.message ?? '', /at most 256/);
  });
});

describe('secrets: options', () => {
  it('accepts headers (lowercased) and allowInsecureHttp', () => {
    const parsed = SecretsRequest.parse({
      K: { value: 'v', hosts: ['a.test'], headers: ['Authorization', 'X-Api-Key'], allowInsecureHttp: true },
    });
    assert.deepEqual(parsed.K?.headers, ['authorization', 'x-api-key']);
    assert.equal(parsed.K?.allowInsecureHttp, true);
  });

  it('refuses bad headers, a non-boolean allowInsecureHttp, and values that cannot go into a header', () => {
    for (const [spec, path] of [
      [{ headers: [] }, 'K.headers'],
      [{ headers: ['bad header'] }, 'K.headers.0'],
      [{ headers: ['host'] }, 'K.headers.0'],
      [{ headers: ['Transfer-Encoding'] }, 'K.headers.0'],
      [{ headers: 'authorization' }, 'K.headers'],
      [{ allowInsecureHttp: 'yes' }, 'K.allowInsecureHttp'],
      [{ value: 'a\r\nX-Injected: 1' }, 'K.value'],
      [{ value: 'a\0b' }, 'K.value'],
    ] as const) {
      const issues = issuesOf(SecretsRequest.safeParse({ K: { value: 'v', hosts: ['a.test'], ...spec } }));
      assert.deepEqual(
        issues.map((i) => i.path),
        [path],
        JSON.stringify(spec),
      );
    }
    assert.equal(SecretsRequest.safeParse({ 'K\0': { value: 'v', hosts: ['a.test'] } }).success, false);
  });
});

describe('secrets: where the value is put', () => {
  const rule = (over: Partial<SecretRule>): SecretRule => ({
    name: 'K',
    placeholder: 'paddock-secret-aaaaaaaaaaaaaaaaaaaaaaaa',
    value: 'v!',
    hosts: ['api.x.test'],
    ...over,
  });

  it('sends a value over plain HTTP only when its secret allows it', () => {
    const tlsOnly = rule({});
    const insecure = rule({ name: 'I', allowInsecureHttp: true });
    assert.deepEqual(secretsFor('api.x.test', [tlsOnly, insecure], { tls: false }), [insecure]);
    assert.deepEqual(secretsFor('api.x.test', [tlsOnly, insecure], { tls: true }), [tlsOnly, insecure]);
  });

  it('puts a pinned secret only in its headers', () => {
    const pinned = rule({ headers: ['authorization'] });
    const p = pinned.placeholder;
    const { headers, replaced } = substituteHeaders(
      { authorization: `Bearer ${p}`, 'x-echo': p, cookie: [`a=${p}`] as unknown as string },
      [pinned],
    );
    assert.equal(replaced, 1);
    assert.equal(headers.authorization, 'Bearer v!');
    assert.equal(headers['x-echo'], p);
    assert.deepEqual(headers.cookie, [`a=${p}`]);
  });
});

describe('secrets: the host-side store', () => {
  it('keeps the options, and reads a store from before them as TLS-only, any header', () => {
    const dir = mkdtempSync(join(tmpdir(), 'paddock-secret-tables-'));
    try {
      const file = join(dir, 'paddock.db');
      const old = new Database(file);
      old.exec(
        'CREATE TABLE sandbox_secrets (sandbox_id TEXT NOT NULL, name TEXT NOT NULL, placeholder TEXT NOT NULL, value TEXT NOT NULL, hosts TEXT NOT NULL, PRIMARY KEY (sandbox_id, name))',
      );
      old.prepare('INSERT INTO sandbox_secrets VALUES (?, ?, ?, ?, ?)').run('s1', 'OLD', 'p', 'v', '["a.test"]');
      old.close();
      const store = new SqliteStore(file);
      const tables = store.sandboxSecrets;
      try {
        assert.deepEqual(tables.get('s1'), [{ name: 'OLD', placeholder: 'p', value: 'v', hosts: ['a.test'] }]);
        const rule = { name: 'NEW', placeholder: 'q', value: 'w', hosts: ['b.test'] };
        tables.put('s2', [{ ...rule, headers: ['authorization'], allowInsecureHttp: true }]);
        assert.deepEqual(tables.get('s2'), [{ ...rule, headers: ['authorization'], allowInsecureHttp: true }]);
      } finally {
        store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('agent: permissions of a named user', () => {
  const user = { name: 'user', uid: 1000, gid: 1000, home: '/home/user', shell: '/bin/bash', groups: [27] };
  const root = { ...user, name: 'root', uid: 0, gid: 0, groups: [] };

  it('follows owner, group (primary and supplementary) and other bits; root passes', () => {
    const rootOnly = { mode: 0o100600, uid: 0, gid: 0 };
    assert.equal(permits(rootOnly, user, ACCESS.read), false);
    assert.equal(permits(rootOnly, root, ACCESS.read | ACCESS.write), true);
    assert.equal(permits({ mode: 0o100640, uid: 0, gid: 1000 }, user, ACCESS.read), true);
    assert.equal(permits({ mode: 0o100640, uid: 0, gid: 27 }, user, ACCESS.read), true);
    assert.equal(permits({ mode: 0o100640, uid: 0, gid: 27 }, user, ACCESS.write), false);
    // Owner bits decide for the owner even when "other" would allow more.
    assert.equal(permits({ mode: 0o100077, uid: 1000, gid: 0 }, user, ACCESS.read), false);
    assert.equal(permits({ mode: 0o40711, uid: 0, gid: 0 }, user, ACCESS.search), true);
    assert.equal(permits({ mode: 0o40700, uid: 0, gid: 0 }, user, ACCESS.search), false);
  });
});

describe('paddock sandbox create --secret-header / --secret-insecure-http', () => {
  it('applies the options to the named --secret, and refuses other names', () => {
    const secrets = { K: { value: 'v', hosts: ['a.test'] } };
    const headers = collectSecretHeaders('K=X-Api-Key', collectSecretHeaders('K=authorization'));
    assert.deepEqual(applySecretFlags(secrets, { headers, insecureHttp: ['K'] }), {
      K: { value: 'v', hosts: ['a.test'], headers: ['authorization', 'X-Api-Key'], allowInsecureHttp: true },
    });
    assert.throws(() => applySecretFlags(secrets, { insecureHttp: ['OTHER'] }), /no --secret OTHER/);
    assert.throws(() => applySecretFlags(undefined, { headers: { K: ['a'] } }), /no --secret K/);
    assert.throws(() => collectSecretHeaders('K='), /NAME=header/);
    assert.equal(applySecretFlags(undefined, {}), undefined);
  });
});
