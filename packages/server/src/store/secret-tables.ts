import type Database from 'better-sqlite3';
import type { SandboxSecretStore, SecretRule } from '../core/seams/store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sandbox_secrets (
  sandbox_id TEXT NOT NULL,
  name TEXT NOT NULL,
  placeholder TEXT NOT NULL,
  value TEXT NOT NULL,
  hosts TEXT NOT NULL,
  options TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (sandbox_id, name)
);
`;

interface Row {
  name: string;
  placeholder: string;
  value: string;
  hosts: string;
  options: string;
}

/** The rule's options, as the `options` column keeps them (JSON). */
type RuleOptions = Pick<SecretRule, 'headers' | 'allowInsecureHttp'>;

/**
 * The `sandbox_secrets` table, on the store's connection. Values are stored as given (plain
 * text, like the rest of the data dir, which only the server's user can read).
 */
export class SecretTables implements SandboxSecretStore {
  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
    // Stores from before secret options: their rows get `{}` (TLS only, any header).
    const columns = db.prepare('PRAGMA table_info(sandbox_secrets)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'options')) {
      db.exec(`ALTER TABLE sandbox_secrets ADD COLUMN options TEXT NOT NULL DEFAULT '{}'`);
    }
  }

  put(sandboxId: string, rules: readonly SecretRule[]): void {
    const insert = this.db.prepare(
      'INSERT OR REPLACE INTO sandbox_secrets (sandbox_id, name, placeholder, value, hosts, options) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      for (const r of rules) {
        const options: RuleOptions = {
          ...(r.headers ? { headers: r.headers } : {}),
          ...(r.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
        };
        insert.run(sandboxId, r.name, r.placeholder, r.value, JSON.stringify(r.hosts), JSON.stringify(options));
      }
    })();
  }

  get(sandboxId: string): SecretRule[] {
    const rows = this.db
      .prepare(
        'SELECT name, placeholder, value, hosts, options FROM sandbox_secrets WHERE sandbox_id = ? ORDER BY name',
      )
      .all(sandboxId) as Row[];
    return rows.map((r) => {
      const options = JSON.parse(r.options) as RuleOptions;
      return {
        name: r.name,
        placeholder: r.placeholder,
        value: r.value,
        hosts: JSON.parse(r.hosts) as string[],
        ...(options.headers ? { headers: options.headers } : {}),
        ...(options.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
      };
    });
  }

  remove(sandboxId: string): void {
    this.db.prepare('DELETE FROM sandbox_secrets WHERE sandbox_id = ?').run(sandboxId);
  }

  sandboxIds(): string[] {
    return this.db.prepare('SELECT DISTINCT sandbox_id FROM sandbox_secrets').pluck().all() as string[];
  }
}
