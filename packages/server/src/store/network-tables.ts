import type { EgressMode } from '@paddock/protocol';
import type Database from 'better-sqlite3';
import type { NetworkRecord, NetworkStore } from '../core/seams/store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sandbox_networks (
  sandbox_id TEXT PRIMARY KEY,
  slot INTEGER UNIQUE,
  egress TEXT NOT NULL,
  allow TEXT NOT NULL,
  bandwidth_mbit INTEGER NOT NULL
);
`;

interface Row {
  sandbox_id: string;
  slot: number | null;
  egress: string;
  allow: string;
  bandwidth_mbit: number;
}

/** The `sandbox_networks` table, on the store's connection; the network layer is its only user. */
export class NetworkTables implements NetworkStore {
  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
  }

  insert(record: Omit<NetworkRecord, 'slot'>, withSlot: boolean, slotCount: number): number | null {
    return this.db.transaction((): number | null => {
      let slot: number | null = null;
      if (withSlot) {
        const used = this.db
          .prepare('SELECT slot FROM sandbox_networks WHERE slot IS NOT NULL ORDER BY slot')
          .pluck()
          .all() as number[];
        slot = 0;
        for (const taken of used) {
          if (taken !== slot) break;
          slot++;
        }
        if (slot >= slotCount) throw new Error(`the sandbox subnet is full (${slotCount} sandboxes)`);
      }
      this.db
        .prepare(
          'INSERT INTO sandbox_networks (sandbox_id, slot, egress, allow, bandwidth_mbit) VALUES (?, ?, ?, ?, ?)',
        )
        .run(record.sandboxId, slot, record.egress, JSON.stringify(record.allow), record.bandwidthMbit);
      return slot;
    })();
  }

  get(sandboxId: string): NetworkRecord | undefined {
    const row = this.db.prepare('SELECT * FROM sandbox_networks WHERE sandbox_id = ?').get(sandboxId) as
      | Row
      | undefined;
    return row ? toRecord(row) : undefined;
  }

  list(): NetworkRecord[] {
    return (this.db.prepare('SELECT * FROM sandbox_networks').all() as Row[]).map(toRecord);
  }

  updatePolicy(sandboxId: string, policy: Pick<NetworkRecord, 'egress' | 'allow' | 'bandwidthMbit'>): void {
    this.db
      .prepare('UPDATE sandbox_networks SET egress = ?, allow = ?, bandwidth_mbit = ? WHERE sandbox_id = ?')
      .run(policy.egress, JSON.stringify(policy.allow), policy.bandwidthMbit, sandboxId);
  }

  delete(sandboxId: string): void {
    this.db.prepare('DELETE FROM sandbox_networks WHERE sandbox_id = ?').run(sandboxId);
  }
}

function toRecord(row: Row): NetworkRecord {
  return {
    sandboxId: row.sandbox_id,
    slot: row.slot,
    egress: row.egress as EgressMode,
    allow: JSON.parse(row.allow) as string[],
    bandwidthMbit: row.bandwidth_mbit,
  };
}
