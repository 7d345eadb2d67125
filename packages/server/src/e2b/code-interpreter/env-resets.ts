import type { EnvChange } from './env-snippets.js';

/**
 * Per-run env vars still to be undone, by sandbox and context: each is reset at the start
 * of the context's next cell (to the sandbox's own value, or removed). Kept in memory: after
 * a server restart a context keeps the last run's variables until its next restart.
 */
export class PendingEnvResets {
  private readonly byContext = new Map<string, EnvChange[]>();

  private static key(sandboxId: string, contextId: string): string {
    return `${sandboxId}/${contextId}`;
  }

  /** The resets still owed, followed by this run's variables (which win). */
  changesFor(sandboxId: string, contextId: string, envVars: Record<string, string>): EnvChange[] {
    const merged = new Map<string, string | undefined>(this.byContext.get(PendingEnvResets.key(sandboxId, contextId)));
    for (const [name, value] of Object.entries(envVars)) merged.set(name, value);
    return [...merged];
  }

  /** After a cell that ran: its variables are owed a reset to the sandbox's values. */
  ran(sandboxId: string, contextId: string, names: string[], sandboxEnv: Record<string, string>): void {
    const key = PendingEnvResets.key(sandboxId, contextId);
    if (names.length === 0) this.byContext.delete(key);
    else
      this.byContext.set(
        key,
        names.map((name) => [name, Object.hasOwn(sandboxEnv, name) ? sandboxEnv[name] : undefined]),
      );
  }

  /** A restarted or removed context has a fresh environment. */
  forget(sandboxId: string, contextId: string): void {
    this.byContext.delete(PendingEnvResets.key(sandboxId, contextId));
  }
}
