/** What an E2B pid stands for: one of our durable processes, or a PTY session. */
export interface PidEntry {
  kind: 'process' | 'pty';
  /** Our process id or PTY session id. */
  id: string;
  tag?: string | undefined;
  /** The config the E2B client started it with (echoed by `List`). */
  config?: { cmd: string; args: string[]; envs: Record<string, string>; cwd?: string | undefined } | undefined;
}

/**
 * E2B pids are the in-sandbox pids, which the agent reports for processes and PTYs alike;
 * this table maps them (and tags) back to our ids. It is a cache: entries missing after a
 * server restart, or for processes started through /v1, are found again by listing the agent.
 */
export class PidTable {
  private readonly bySandbox = new Map<string, Map<number, PidEntry>>();

  private table(sandboxId: string): Map<number, PidEntry> {
    let table = this.bySandbox.get(sandboxId);
    if (!table) {
      table = new Map();
      this.bySandbox.set(sandboxId, table);
    }
    return table;
  }

  set(sandboxId: string, pid: number, entry: PidEntry): void {
    this.table(sandboxId).set(pid, entry);
  }

  get(sandboxId: string, pid: number): PidEntry | undefined {
    return this.bySandbox.get(sandboxId)?.get(pid);
  }

  byTag(sandboxId: string, tag: string): [number, PidEntry] | undefined {
    for (const pair of this.bySandbox.get(sandboxId) ?? []) if (pair[1].tag === tag) return pair;
    return undefined;
  }

  /** Forgets a sandbox's pids (it was killed, or its processes restarted). */
  drop(sandboxId: string): void {
    this.bySandbox.delete(sandboxId);
  }
}
