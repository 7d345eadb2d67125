import type { ReasonCode } from '@paddock/protocol';
import Database from 'better-sqlite3';
import type {
  NetworkStore,
  PoolKey,
  PortStore,
  SandboxFilter,
  SandboxRecord,
  SandboxSecretStore,
  SnapshotRecord,
  Store,
  TemplateRecord,
  VolumeRecord,
} from '../core/seams/store.js';
import { NetworkTables } from './network-tables.js';
import { PortTables } from './port-tables.js';
import { migrateReasonCode } from './reason-column.js';
import { SecretTables } from './secret-tables.js';
import { migrateStateful, rowStateful, STATEFUL_COLUMNS, StatefulTables, statefulValue } from './stateful-tables.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sandboxes (
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
);
CREATE INDEX IF NOT EXISTS sandboxes_state ON sandboxes(state);
CREATE TABLE IF NOT EXISTS templates (
  name TEXT PRIMARY KEY,
  spec_hash TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
  hash TEXT PRIMARY KEY,
  label TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS secrets (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

interface SandboxRow {
  id: string;
  template: string;
  template_hash: string;
  isolation: string;
  state: string;
  created_at_ms: number;
  expires_at_ms: number | null;
  memory_mib: number;
  cpus: number;
  disk_mib: number;
  pids: number;
  env: string;
  metadata: string;
  pooled: number;
  reason: string | null;
  reason_code: string | null;
}

const COLUMNS: Record<keyof Omit<SandboxRecord, 'id'>, string> = {
  ...STATEFUL_COLUMNS,
  template: 'template',
  templateHash: 'template_hash',
  isolation: 'isolation',
  state: 'state',
  createdAtMs: 'created_at_ms',
  expiresAtMs: 'expires_at_ms',
  memoryMiB: 'memory_mib',
  cpus: 'cpus',
  diskMiB: 'disk_mib',
  pids: 'pids',
  env: 'env',
  metadata: 'metadata',
  pooled: 'pooled',
  reason: 'reason',
  reasonCode: 'reason_code',
};

function toRecord(row: SandboxRow): SandboxRecord {
  return {
    id: row.id,
    template: row.template,
    templateHash: row.template_hash,
    isolation: row.isolation as SandboxRecord['isolation'],
    state: row.state as SandboxRecord['state'],
    createdAtMs: row.created_at_ms,
    expiresAtMs: row.expires_at_ms,
    memoryMiB: row.memory_mib,
    cpus: row.cpus,
    diskMiB: row.disk_mib,
    pids: row.pids,
    env: JSON.parse(row.env) as Record<string, string>,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    pooled: row.pooled === 1,
    reason: row.reason,
    reasonCode: row.reason_code as ReasonCode | null,
    ...rowStateful(row as unknown as Record<string, unknown>),
  };
}

function toColumnValue(key: keyof Omit<SandboxRecord, 'id'>, value: unknown): unknown {
  if (key === 'env' || key === 'metadata') return JSON.stringify(value);
  if (key === 'pooled') return value ? 1 : 0;
  return statefulValue(key, value);
}

/**
 * The embedded default store: one SQLite file in the data dir, WAL mode, one connection for
 * every table (the side tables of ports, secrets and networks included).
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stateful: StatefulTables;
  readonly ports: PortStore;
  readonly sandboxSecrets: SandboxSecretStore;
  readonly networks: NetworkStore;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: a sandbox the API reported as created must survive a power cut.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    migrateStateful(this.db);
    migrateReasonCode(this.db);
    this.stateful = new StatefulTables(this.db);
    this.ports = new PortTables(this.db);
    this.sandboxSecrets = new SecretTables(this.db);
    this.networks = new NetworkTables(this.db);
  }

  insertSandbox(r: SandboxRecord): void {
    this.db
      .prepare(
        `INSERT INTO sandboxes (id, template, template_hash, isolation, state, created_at_ms, expires_at_ms,
          memory_mib, cpus, disk_mib, pids, env, metadata, pooled, reason, reason_code)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        r.id,
        r.template,
        r.templateHash,
        r.isolation,
        r.state,
        r.createdAtMs,
        r.expiresAtMs,
        r.memoryMiB,
        r.cpus,
        r.diskMiB,
        r.pids,
        JSON.stringify(r.env),
        JSON.stringify(r.metadata),
        r.pooled ? 1 : 0,
        r.reason,
        r.reasonCode,
      );
    this.updateSandbox(r.id, {
      timeoutMs: r.timeoutMs,
      onTimeout: r.onTimeout,
      autoResume: r.autoResume,
      retentionMs: r.retentionMs,
      volumes: r.volumes,
      processesRestarted: r.processesRestarted,
    });
  }

  getSandbox(id: string): SandboxRecord | undefined {
    const row = this.db.prepare('SELECT * FROM sandboxes WHERE id = ?').get(id) as SandboxRow | undefined;
    return row && toRecord(row);
  }

  updateSandbox(id: string, patch: Partial<Omit<SandboxRecord, 'id'>>): void {
    const keys = Object.keys(patch) as (keyof typeof patch)[];
    if (keys.length === 0) return;
    const sets = keys.map((k) => `${COLUMNS[k]} = ?`).join(', ');
    const values = keys.map((k) => toColumnValue(k, patch[k]));
    this.db.prepare(`UPDATE sandboxes SET ${sets} WHERE id = ?`).run(...values, id);
  }

  listSandboxes(filter: SandboxFilter = {}): SandboxRecord[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.states && filter.states.length > 0) {
      where.push(`state IN (${filter.states.map(() => '?').join(', ')})`);
      params.push(...filter.states);
    }
    if (filter.pooled !== undefined) {
      where.push('pooled = ?');
      params.push(filter.pooled ? 1 : 0);
    }
    for (const [key, value] of Object.entries(filter.metadata ?? {})) {
      where.push('json_extract(metadata, ?) = ?');
      params.push(`$."${key.replaceAll('"', '""')}"`, value);
    }
    const sql = `SELECT * FROM sandboxes ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at_ms`;
    return (this.db.prepare(sql).all(...params) as SandboxRow[]).map(toRecord);
  }

  deleteSandbox(id: string): void {
    this.db.prepare('DELETE FROM sandboxes WHERE id = ?').run(id);
  }

  claimPooled(match: PoolKey, patch: Partial<Omit<SandboxRecord, 'id'>>): SandboxRecord | undefined {
    return this.db.transaction(() => {
      const row = this.db
        .prepare(
          `SELECT * FROM sandboxes WHERE pooled = 1 AND state = 'running' AND template_hash = ? AND isolation = ?
             AND memory_mib = ? AND cpus = ? AND disk_mib = ? AND pids = ? ORDER BY created_at_ms LIMIT 1`,
        )
        .get(match.templateHash, match.isolation, match.memoryMiB, match.cpus, match.diskMiB, match.pids) as
        | SandboxRow
        | undefined;
      if (!row) return undefined;
      this.updateSandbox(row.id, { ...patch, pooled: false });
      return this.getSandbox(row.id);
    })();
  }

  putTemplate(r: TemplateRecord): void {
    this.db
      .prepare(
        `INSERT INTO templates (name, spec_hash, created_at_ms) VALUES (?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET spec_hash = excluded.spec_hash, created_at_ms = excluded.created_at_ms`,
      )
      .run(r.name, r.specHash, r.createdAtMs);
  }

  getTemplate(name: string): TemplateRecord | undefined {
    const row = this.db.prepare('SELECT * FROM templates WHERE name = ?').get(name) as
      | { name: string; spec_hash: string; created_at_ms: number }
      | undefined;
    return row && { name: row.name, specHash: row.spec_hash, createdAtMs: row.created_at_ms };
  }

  listTemplates(): TemplateRecord[] {
    const rows = this.db.prepare('SELECT * FROM templates ORDER BY name').all() as {
      name: string;
      spec_hash: string;
      created_at_ms: number;
    }[];
    return rows.map((row) => ({ name: row.name, specHash: row.spec_hash, createdAtMs: row.created_at_ms }));
  }

  deleteTemplate(name: string): void {
    this.db.prepare('DELETE FROM templates WHERE name = ?').run(name);
  }

  putVolume(record: VolumeRecord): void {
    this.stateful.putVolume(record);
  }

  getVolume(name: string): VolumeRecord | undefined {
    return this.stateful.getVolume(name);
  }

  listVolumes(): VolumeRecord[] {
    return this.stateful.listVolumes();
  }

  deleteVolume(name: string): void {
    this.stateful.deleteVolume(name);
  }

  putSnapshot(record: SnapshotRecord): void {
    this.stateful.putSnapshot(record);
  }

  getSnapshot(name: string): SnapshotRecord | undefined {
    return this.stateful.getSnapshot(name);
  }

  listSnapshots(): SnapshotRecord[] {
    return this.stateful.listSnapshots();
  }

  deleteSnapshot(name: string): void {
    this.stateful.deleteSnapshot(name);
  }

  addApiKeyHash(hash: string, label: string): void {
    this.db
      .prepare('INSERT OR IGNORE INTO api_keys (hash, label, created_at_ms) VALUES (?, ?, ?)')
      .run(hash, label, Date.now());
  }

  hasApiKeyHash(hash: string): boolean {
    return this.db.prepare('SELECT 1 FROM api_keys WHERE hash = ?').get(hash) !== undefined;
  }

  countApiKeys(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM api_keys').get() as { n: number }).n;
  }

  secret(name: string, make: () => string): string {
    // INSERT OR IGNORE: two servers racing on one data dir still agree on the first value.
    this.db.prepare('INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)').run(name, make());
    return (this.db.prepare('SELECT value FROM secrets WHERE name = ?').get(name) as { value: string }).value;
  }

  close(): void {
    this.db.close();
  }
}
