import Database from 'better-sqlite3';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS public_ports (
  sandbox_id TEXT NOT NULL,
  port INTEGER NOT NULL,
  PRIMARY KEY (sandbox_id, port)
);
`;

/** Stored as the port of a sandbox-wide public flag (E2B's `allowPublicTraffic`, on by default there). */
export const ALL_PORTS = 0;

/**
 * The exposed ports' durable state: which ports are public (the key that signs port tokens
 * is a server secret, see server-secret.ts). Its own connection to the server's SQLite file (WAL
 * allows several), so the sandbox store's interface does not grow with each feature.
 */
export class PortTables {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
  }

  setPublic(sandboxId: string, port: number, isPublic: boolean): void {
    if (isPublic) {
      this.db.prepare('INSERT OR IGNORE INTO public_ports (sandbox_id, port) VALUES (?, ?)').run(sandboxId, port);
    } else {
      this.db.prepare('DELETE FROM public_ports WHERE sandbox_id = ? AND port = ?').run(sandboxId, port);
    }
  }

  /** True when this port, or every port of the sandbox (the row with port {@link ALL_PORTS}), is public. */
  isPublic(sandboxId: string, port: number): boolean {
    return (
      this.db
        .prepare('SELECT 1 FROM public_ports WHERE sandbox_id = ? AND port IN (?, ?)')
        .get(sandboxId, port, ALL_PORTS) !== undefined
    );
  }

  /** The ports made public one by one (not the sandbox-wide flag). */
  publicPorts(sandboxId: string): number[] {
    const rows = this.db
      .prepare('SELECT port FROM public_ports WHERE sandbox_id = ? AND port != 0 ORDER BY port')
      .all(sandboxId) as {
      port: number;
    }[];
    return rows.map((r) => r.port);
  }

  /** Forgets a sandbox's ports (once it is killed). */
  forget(sandboxId: string): void {
    this.db.prepare('DELETE FROM public_ports WHERE sandbox_id = ?').run(sandboxId);
  }

  close(): void {
    this.db.close();
  }
}
