import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { SecretRule } from '../../packages/server/src/core/seams/store.js';
import { SqliteStore } from '../../packages/server/src/store/sqlite-store.js';

/**
 * The schema exactly as the server wrote it before the side tables (ports, secrets, networks)
 * moved onto the store's connection: the text of `sqlite_master` of a data dir made then. Each
 * side table had its own connection and made its own table.
 */
const SCHEMA_BEFORE = [
  `CREATE TABLE sandboxes (
  id TEXT PRIMARY KEY,
  template TEXT NOT NULL,
  template_hash TEXT NOT NULL,
  isolation TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER,
  memory_mib INTEGER NOT NULL,
  cpus REAL NOT NULL,
  disk_mib INTEGER NOT NULL,
  pids INTEGER NOT NULL,
  env TEXT NOT NULL,
  metadata TEXT NOT NULL,
  pooled INTEGER NOT NULL,
  reason TEXT
, timeout_ms INTEGER NOT NULL DEFAULT 300000, on_timeout TEXT NOT NULL DEFAULT 'kill', auto_resume INTEGER NOT NULL DEFAULT 0, retention_ms INTEGER NOT NULL DEFAULT 604800000, volumes TEXT NOT NULL DEFAULT '[]', processes_restarted INTEGER NOT NULL DEFAULT 0, reason_code TEXT)`,
  'CREATE INDEX sandboxes_state ON sandboxes(state)',
  'CREATE TABLE templates (\n  name TEXT PRIMARY KEY,\n  spec_hash TEXT NOT NULL,\n  created_at_ms INTEGER NOT NULL\n)',
  'CREATE TABLE api_keys (\n  hash TEXT PRIMARY KEY,\n  label TEXT NOT NULL,\n  created_at_ms INTEGER NOT NULL\n)',
  'CREATE TABLE secrets (\n  name TEXT PRIMARY KEY,\n  value TEXT NOT NULL\n)',
  'CREATE TABLE volumes (\n  name TEXT PRIMARY KEY,\n  size_mib INTEGER NOT NULL,\n  created_at_ms INTEGER NOT NULL\n)',
  `CREATE TABLE snapshots (
  name TEXT PRIMARY KEY,
  sandbox_id TEXT NOT NULL,
  base_template TEXT NOT NULL,
  base_hash TEXT NOT NULL,
  layers TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL
)`,
  'CREATE TABLE public_ports (\n  sandbox_id TEXT NOT NULL,\n  port INTEGER NOT NULL,\n  PRIMARY KEY (sandbox_id, port)\n)',
  `CREATE TABLE sandbox_secrets (
  sandbox_id TEXT NOT NULL,
  name TEXT NOT NULL,
  placeholder TEXT NOT NULL,
  value TEXT NOT NULL,
  hosts TEXT NOT NULL,
  options TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (sandbox_id, name)
)`,
  `CREATE TABLE sandbox_networks (
      sandbox_id TEXT PRIMARY KEY,
      slot INTEGER UNIQUE,
      egress TEXT NOT NULL,
      allow TEXT NOT NULL,
      bandwidth_mbit INTEGER NOT NULL
    )`,
];

/** Rows as the old code wrote them (JSON columns, 0/1 flags, port 0 for the sandbox-wide flag). */
const ROWS_BEFORE = `
INSERT INTO sandboxes VALUES ('sbx1', 'base', 'h1', 'gvisor', 'paused', 1000, 5000, 512, 1.5, 2048, 1024,
  '{"A":"1"}', '{"team":"x"}', 0, 'paused by the API', 600000, 'pause', 1, 86400000,
  '[{"name":"vol1","path":"/data"}]', 0, 'api');
INSERT INTO templates VALUES ('base', 'h1', 900);
INSERT INTO api_keys VALUES ('keyhash', 'first', 800);
INSERT INTO secrets VALUES ('port-token-hmac', 'abcd');
INSERT INTO volumes VALUES ('vol1', 256, 700);
INSERT INTO snapshots VALUES ('snap1', 'sbx1', 'base', 'h1', '["/l2","/l1"]', 4096, 1100);
INSERT INTO public_ports VALUES ('sbx1', 3000), ('sbx1', 0), ('sbx2', 8080);
INSERT INTO sandbox_secrets VALUES ('sbx1', 'KEY', 'paddock-secret-p', 'the-value', '["api.test","*.api.test"]',
  '{"headers":["authorization"],"allowInsecureHttp":true}'), ('sbx1', 'PLAIN', 'paddock-secret-q', 'v2', '["b.test"]', '{}');
INSERT INTO sandbox_networks VALUES ('sbx1', 0, 'allowlist', '["api.test"]', 10), ('sbx3', NULL, 'none', '[]', 0);
`;

const KEY_RULE: SecretRule = {
  name: 'KEY',
  placeholder: 'paddock-secret-p',
  value: 'the-value',
  hosts: ['api.test', '*.api.test'],
  headers: ['authorization'],
  allowInsecureHttp: true,
};
const PLAIN_RULE: SecretRule = { name: 'PLAIN', placeholder: 'paddock-secret-q', value: 'v2', hosts: ['b.test'] };

/** Every table, index and column as `sqlite_master` keeps them, whitespace folded. */
function schemaOf(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name').pluck().all() as string[])
      .map((sql) => sql.replace(/\s+/g, ' ').replace(/ ?([(),]) ?/g, '$1'))
      .sort();
  } finally {
    db.close();
  }
}

function assertOldRows(store: SqliteStore): void {
  const sbx = store.getSandbox('sbx1');
  assert.equal(sbx?.state, 'paused');
  assert.deepEqual(sbx?.env, { A: '1' });
  assert.deepEqual(sbx?.volumes, [{ name: 'vol1', path: '/data' }]);
  assert.equal(sbx?.autoResume, true);
  assert.equal(sbx?.reasonCode, 'api');
  assert.deepEqual(store.getTemplate('base'), { name: 'base', specHash: 'h1', createdAtMs: 900 });
  assert.equal(store.hasApiKeyHash('keyhash'), true);
  assert.equal(
    store.secret('port-token-hmac', () => 'new'),
    'abcd',
  );
  assert.deepEqual(store.getVolume('vol1'), { name: 'vol1', sizeMiB: 256, createdAtMs: 700 });
  assert.deepEqual(store.getSnapshot('snap1')?.layers, ['/l2', '/l1']);
  assert.deepEqual(store.ports.publicPorts('sbx1'), [3000]);
  assert.equal(store.ports.isPublic('sbx1', 9999), true, 'the sandbox-wide flag (port 0) is kept');
  assert.equal(store.ports.isPublic('sbx2', 8080), true);
  assert.deepEqual(store.sandboxSecrets.get('sbx1'), [KEY_RULE, PLAIN_RULE]);
  assert.deepEqual(store.sandboxSecrets.sandboxIds(), ['sbx1']);
  assert.deepEqual(
    store.networks.list().sort((a, b) => a.sandboxId.localeCompare(b.sandboxId)),
    [
      { sandboxId: 'sbx1', slot: 0, egress: 'allowlist', allow: ['api.test'], bandwidthMbit: 10 },
      { sandboxId: 'sbx3', slot: null, egress: 'none', allow: [], bandwidthMbit: 0 },
    ],
  );
}

describe('the store opens a data dir from before the side tables joined it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-store-upgrade-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps every row of every table and changes no table', () => {
    const file = join(dir, 'old.db');
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    for (const sql of SCHEMA_BEFORE) old.exec(sql);
    old.exec(ROWS_BEFORE);
    old.close();
    const before = schemaOf(file);

    const store = new SqliteStore(file);
    assertOldRows(store);
    store.close();
    assert.deepEqual(schemaOf(file), before, 'opening an old store alters no table');

    const again = new SqliteStore(file);
    assertOldRows(again);
    // The old rows still work with the new code's writes (slots stay unique, secrets replace by name).
    assert.equal(again.networks.insert({ sandboxId: 'sbx4', egress: 'open', allow: [], bandwidthMbit: 0 }, true, 4), 1);
    again.sandboxSecrets.put('sbx1', [{ ...PLAIN_RULE, value: 'v3' }]);
    assert.deepEqual(again.sandboxSecrets.get('sbx1'), [KEY_RULE, { ...PLAIN_RULE, value: 'v3' }]);
    again.close();
  });

  it('makes a new data dir with the same schema as before', () => {
    const file = join(dir, 'new.db');
    new SqliteStore(file).close();
    const old = new Database(join(dir, 'reference.db'));
    for (const sql of SCHEMA_BEFORE) old.exec(sql);
    old.close();
    assert.deepEqual(schemaOf(file), schemaOf(join(dir, 'reference.db')));
  });
});

describe('the side tables keep their rows across a reopen (a server restart)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-store-reopen-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('ports, sandbox secrets and networks', () => {
    const file = join(dir, 'paddock.db');
    const first = new SqliteStore(file);
    first.ports.setPublic('sbx1', 3000, true);
    first.ports.setPublic('sbx1', 0, true);
    first.sandboxSecrets.put('sbx1', [KEY_RULE, PLAIN_RULE]);
    assert.equal(first.networks.insert({ sandboxId: 'sbx1', egress: 'open', allow: [], bandwidthMbit: 5 }, true, 4), 0);
    assert.equal(
      first.networks.insert({ sandboxId: 'sbx2', egress: 'none', allow: [], bandwidthMbit: 0 }, false, 4),
      null,
    );
    first.networks.updatePolicy('sbx1', { egress: 'allowlist', allow: ['x.test'], bandwidthMbit: 7 });
    first.close();

    const second = new SqliteStore(file);
    try {
      assert.deepEqual(second.ports.publicPorts('sbx1'), [3000]);
      assert.equal(second.ports.isPublic('sbx1', 1234), true);
      assert.deepEqual(second.sandboxSecrets.get('sbx1'), [KEY_RULE, PLAIN_RULE]);
      assert.deepEqual(second.networks.get('sbx1'), {
        sandboxId: 'sbx1',
        slot: 0,
        egress: 'allowlist',
        allow: ['x.test'],
        bandwidthMbit: 7,
      });
      assert.equal(second.networks.get('sbx2')?.slot, null);
      second.ports.forget('sbx1');
      second.sandboxSecrets.remove('sbx1');
      second.networks.delete('sbx1');
      assert.equal(second.ports.isPublic('sbx1', 3000), false);
      assert.deepEqual(second.sandboxSecrets.sandboxIds(), []);
      assert.deepEqual(
        second.networks.list().map((r) => r.sandboxId),
        ['sbx2'],
      );
    } finally {
      second.close();
    }
  });
});
