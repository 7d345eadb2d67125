import type { EgressMode } from '@paddock/protocol';
import Database from 'better-sqlite3';

/** One sandbox's network as stored, so that a restarted server rebuilds firewall and resolvers. */
export interface NetworkRecord {
  sandboxId: string;
  /** Index of the sandbox's /30 in the server subnet; null when it has no interface (gVisor `none`). */
  slot: number | null;
  egress: EgressMode;
  allow: string[];
  bandwidthMbit: number;
}

interface Row {
  sandbox_id: string;
  slot: number | null;
  egress: string;
  allow: string;
  bandwidth_mbit: number;
}

/**
 * The `sandbox_networks` table, on its own connection to the server's SQLite file (WAL): the
 * network layer owns it and nothing else touches it. Slots are unique, so two sandboxes never
 * share a /30.
 */
export class NetworkStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS sandbox_networks (
      sandbox_id TEXT PRIMARY KEY,
      slot INTEGER UNIQUE,
      egress TEXT NOT NULL,
      allow TEXT NOT NULL,
      bandwidth_mbit INTEGER NOT NULL
    )`);
  }

  /** Stores the record with the lowest free slot below `slotCount` (or none); returns the slot. */
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

  close(): void {
    this.db.close();
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
