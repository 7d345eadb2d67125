import { LIMITS, type OnTimeout, type VolumeMount } from '@paddock/protocol';
import type Database from 'better-sqlite3';
import type { SandboxRecord, SnapshotRecord, VolumeRecord } from '../core/seams/store.js';

type StatefulKey = 'timeoutMs' | 'onTimeout' | 'autoResume' | 'retentionMs' | 'volumes' | 'processesRestarted';

/** Columns added to `sandboxes` for stateful sandboxes, with their SQL type and default. */
const ADDED_COLUMNS: Record<string, string> = {
  timeout_ms: `INTEGER NOT NULL DEFAULT ${LIMITS.timeoutMs.default}`,
  on_timeout: "TEXT NOT NULL DEFAULT 'kill'",
  auto_resume: 'INTEGER NOT NULL DEFAULT 0',
  retention_ms: `INTEGER NOT NULL DEFAULT ${LIMITS.retentionMs.default}`,
  volumes: "TEXT NOT NULL DEFAULT '[]'",
  processes_restarted: 'INTEGER NOT NULL DEFAULT 0',
};

export const STATEFUL_COLUMNS: Record<StatefulKey, string> = {
  timeoutMs: 'timeout_ms',
  onTimeout: 'on_timeout',
  autoResume: 'auto_resume',
  retentionMs: 'retention_ms',
  volumes: 'volumes',
  processesRestarted: 'processes_restarted',
};

const TABLES = `
CREATE TABLE IF NOT EXISTS volumes (
  name TEXT PRIMARY KEY,
  size_mib INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
  name TEXT PRIMARY KEY,
  sandbox_id TEXT NOT NULL,
  base_template TEXT NOT NULL,
  base_hash TEXT NOT NULL,
  layers TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL
);
`;

/** Idempotent: adds the missing columns (a store from before stateful sandboxes) and tables. */
export function migrateStateful(db: Database.Database): void {
  const have = new Set((db.prepare('PRAGMA table_info(sandboxes)').all() as { name: string }[]).map((c) => c.name));
  db.transaction(() => {
    for (const [column, type] of Object.entries(ADDED_COLUMNS)) {
      if (!have.has(column)) db.exec(`ALTER TABLE sandboxes ADD COLUMN ${column} ${type}`);
    }
    db.exec(TABLES);
  })();
}

export function rowStateful(row: Record<string, unknown>): Pick<SandboxRecord, StatefulKey> {
  return {
    timeoutMs: Number(row.timeout_ms),
    onTimeout: String(row.on_timeout) as OnTimeout,
    autoResume: row.auto_resume === 1,
    retentionMs: Number(row.retention_ms),
    volumes: JSON.parse(String(row.volumes ?? '[]')) as VolumeMount[],
    processesRestarted: row.processes_restarted === 1,
  };
}

export function statefulValue(key: string, value: unknown): unknown {
  if (key === 'volumes') return JSON.stringify(value);
  if (key === 'autoResume' || key === 'processesRestarted') return value ? 1 : 0;
  return value;
}

interface SnapshotRow {
  name: string;
  sandbox_id: string;
  base_template: string;
  base_hash: string;
  layers: string;
  size_bytes: number;
  created_at_ms: number;
}

/** The volumes and snapshots tables. */
export class StatefulTables {
  constructor(private readonly db: Database.Database) {}

  putVolume(r: VolumeRecord): void {
    this.db
      .prepare('INSERT INTO volumes (name, size_mib, created_at_ms) VALUES (?, ?, ?)')
      .run(r.name, r.sizeMiB, r.createdAtMs);
  }

  getVolume(name: string): VolumeRecord | undefined {
    const row = this.db.prepare('SELECT * FROM volumes WHERE name = ?').get(name) as
      | { name: string; size_mib: number; created_at_ms: number }
      | undefined;
    return row && { name: row.name, sizeMiB: row.size_mib, createdAtMs: row.created_at_ms };
  }

  listVolumes(): VolumeRecord[] {
    const rows = this.db.prepare('SELECT * FROM volumes ORDER BY name').all() as {
      name: string;
      size_mib: number;
      created_at_ms: number;
    }[];
    return rows.map((row) => ({ name: row.name, sizeMiB: row.size_mib, createdAtMs: row.created_at_ms }));
  }

  deleteVolume(name: string): void {
    this.db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
  }

  putSnapshot(r: SnapshotRecord): void {
    this.db
      .prepare(
        `INSERT INTO snapshots (name, sandbox_id, base_template, base_hash, layers, size_bytes, created_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(r.name, r.sandboxId, r.baseTemplate, r.baseHash, JSON.stringify(r.layers), r.sizeBytes, r.createdAtMs);
  }

  getSnapshot(name: string): SnapshotRecord | undefined {
    const row = this.db.prepare('SELECT * FROM snapshots WHERE name = ?').get(name) as SnapshotRow | undefined;
    return row && toSnapshot(row);
  }

  listSnapshots(): SnapshotRecord[] {
    return (this.db.prepare('SELECT * FROM snapshots ORDER BY name').all() as SnapshotRow[]).map(toSnapshot);
  }

  deleteSnapshot(name: string): void {
    this.db.prepare('DELETE FROM snapshots WHERE name = ?').run(name);
  }
}

function toSnapshot(row: SnapshotRow): SnapshotRecord {
  return {
    name: row.name,
    sandboxId: row.sandbox_id,
    baseTemplate: row.base_template,
    baseHash: row.base_hash,
    layers: JSON.parse(row.layers) as string[],
    sizeBytes: row.size_bytes,
    createdAtMs: row.created_at_ms,
  };
}
