import type { ReasonCode } from '@paddock/protocol';
import type Database from 'better-sqlite3';

/**
 * The free-text reasons servers stored before `reason_code` existed, and their codes: a store
 * from before gets the column and its old rows their code, so that SDKs see one vocabulary.
 */
const LEGACY_REASONS: readonly [pattern: string, code: ReasonCode][] = [
  ['killed by the API', 'api'],
  ['killed through the E2B API', 'api'],
  ['timeout expired', 'timeout'],
  ['retention expired', 'retention'],
  ['out of memory%', 'oom'],
  ['the sandbox stopped unexpectedly%', 'agent_lost'],
  ['%after a server restart%', 'restart'],
  ['failed to start%', 'start_failed'],
  ['network setup failed', 'start_failed'],
  ['secrets could not be set up', 'start_failed'],
  ['hibernate failed%', 'internal'],
  ['failed to free resources', 'internal'],
];

/** Idempotent: adds `sandboxes.reason_code` to a store that lacks it and fills it for old rows. */
export function migrateReasonCode(db: Database.Database): void {
  const columns = db.prepare('PRAGMA table_info(sandboxes)').all() as { name: string }[];
  if (columns.some((c) => c.name === 'reason_code')) return;
  db.transaction(() => {
    db.exec('ALTER TABLE sandboxes ADD COLUMN reason_code TEXT');
    const fill = db.prepare('UPDATE sandboxes SET reason_code = ? WHERE reason_code IS NULL AND reason LIKE ?');
    for (const [pattern, code] of LEGACY_REASONS) fill.run(code, pattern);
  })();
}
