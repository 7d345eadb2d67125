import type Database from 'better-sqlite3';
import { ALL_PORTS, type PortStore } from '../core/seams/store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS public_ports (
  sandbox_id TEXT NOT NULL,
  port INTEGER NOT NULL,
  PRIMARY KEY (sandbox_id, port)
);
`;

/** The `public_ports` table: the exposed ports' durable state, on the store's connection. */
export class PortTables implements PortStore {
  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
  }

  setPublic(sandboxId: string, port: number, isPublic: boolean): void {
    if (isPublic) {
      this.db.prepare('INSERT OR IGNORE INTO public_ports (sandbox_id, port) VALUES (?, ?)').run(sandboxId, port);
    } else {
      this.db.prepare('DELETE FROM public_ports WHERE sandbox_id = ? AND port = ?').run(sandboxId, port);
    }
  }

  isPublic(sandboxId: string, port: number): boolean {
    return (
      this.db
        .prepare('SELECT 1 FROM public_ports WHERE sandbox_id = ? AND port IN (?, ?)')
        .get(sandboxId, port, ALL_PORTS) !== undefined
    );
  }

  publicPorts(sandboxId: string): number[] {
    return this.db
      .prepare('SELECT port FROM public_ports WHERE sandbox_id = ? AND port != ? ORDER BY port')
      .pluck()
      .all(sandboxId, ALL_PORTS) as number[];
  }

  forget(sandboxId: string): void {
    this.db.prepare('DELETE FROM public_ports WHERE sandbox_id = ?').run(sandboxId);
  }
}
