import type { Logger } from './logger.js';

/**
 * Owner of background work (pool refills, timeout kills): every task is tracked so that
 * shutdown can wait for them instead of leaving half-done work behind.
 */
export class TaskScope {
  private readonly running = new Set<Promise<void>>();
  private readonly controller = new AbortController();

  constructor(private readonly logger: Logger) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Starts `task` in the background; its failure is logged, never thrown. */
  spawn(name: string, task: (signal: AbortSignal) => Promise<void>): void {
    if (this.controller.signal.aborted) return;
    const promise = task(this.controller.signal)
      .catch((err: unknown) => {
        if (!this.controller.signal.aborted) this.logger.error({ err, task: name }, 'background task failed');
      })
      .finally(() => this.running.delete(promise));
    this.running.add(promise);
  }

  /** Aborts what can be aborted and waits for every task to settle. */
  async drain(): Promise<void> {
    this.controller.abort(new Error('server is shutting down'));
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Waits for the tasks running now, without aborting (used by tests and benchmarks). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
