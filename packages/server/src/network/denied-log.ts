import type { DeniedAttempt } from './egress-contract.js';

const KEPT_PER_SANDBOX = 100;

/** Refused lookups and proxy connections per sandbox: a bounded ring plus a running total. */
export class DeniedLog {
  private readonly entries = new Map<string, { total: number; recent: DeniedAttempt[] }>();

  record(sandboxId: string, attempt: DeniedAttempt): void {
    const entry = this.entries.get(sandboxId) ?? { total: 0, recent: [] };
    entry.total++;
    entry.recent.push(attempt);
    if (entry.recent.length > KEPT_PER_SANDBOX) entry.recent.shift();
    this.entries.set(sandboxId, entry);
  }

  of(sandboxId: string): { total: number; recent: DeniedAttempt[] } {
    const entry = this.entries.get(sandboxId);
    return { total: entry?.total ?? 0, recent: [...(entry?.recent ?? [])] };
  }

  forget(sandboxId: string): void {
    this.entries.delete(sandboxId);
  }
}
