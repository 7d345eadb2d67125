/** One line of a build's log as E2B's status call returns it (`BuildLogEntry`). */
export interface E2bLogEntry {
  timestamp: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  step?: string;
}

/**
 * A build's log, bounded: the oldest entries go first, and offsets stay absolute (E2B's
 * `logsOffset` counts every entry the client has seen), so a slow poller skips what was dropped.
 */
export class BuildLog {
  private readonly entries: E2bLogEntry[] = [];
  private dropped = 0;

  constructor(private readonly maxEntries: number) {}

  add(level: E2bLogEntry['level'], message: string, step?: string): void {
    const entry: E2bLogEntry = { timestamp: new Date().toISOString(), level, message };
    if (step !== undefined) entry.step = step;
    this.entries.push(entry);
    if (this.entries.length > this.maxEntries) {
      this.entries.shift();
      this.dropped += 1;
    }
  }

  /** Entries from absolute offset `offset` on. */
  from(offset: number): E2bLogEntry[] {
    return this.entries.slice(Math.max(0, offset - this.dropped));
  }

  /** The last `count` entries (a failure's reason carries them). */
  tail(count: number): E2bLogEntry[] {
    return this.entries.slice(-count);
  }
}
