import type { CreateSandboxRequest } from '@paddock/protocol';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { SandboxService } from './sandbox-service.js';
import type { PoolKey, Store } from './seams/store.js';

/** One pool: how many ready spares of which shape (defaults fill the rest). */
export interface PoolTarget {
  request: Pick<CreateSandboxRequest, 'template' | 'isolation' | 'memoryMiB' | 'cpus' | 'diskMiB' | 'pids'>;
  size: number;
}

const RETRY_AFTER_FAILURE_MS = 5_000;
const REFILL_AFTER_CLAIM_MS = 300;

/**
 * Keeps `size` ready sandboxes per target so that a create with the same shape is a claim
 * (one SQLite update) instead of a boot. Refills one sandbox at a time: on a 2-core host,
 * a burst of boots would slow the users' own creates.
 */
export class WarmPool {
  private filling = false;
  private again = false;
  private stopped = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly service: SandboxService,
    private readonly deps: { store: Store; clock: Clock; logger: Logger; targets: readonly PoolTarget[] },
  ) {
    // A refill boot is CPU-heavy; on a small host it would slow down the first commands of
    // the sandbox just handed out, which is what users time. So refill a moment later.
    this.unsubscribe = service.claims.subscribe(() => {
      this.deps.clock.setTimer(REFILL_AFTER_CLAIM_MS, () => this.refill());
    });
  }

  /** Starts filling in the background. */
  refill(): void {
    if (this.stopped) return;
    if (this.filling) {
      this.again = true;
      return;
    }
    this.filling = true;
    this.service.scope.spawn('warm pool refill', (signal) => this.fill(signal));
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
  }

  private count(key: PoolKey): number {
    return this.deps.store
      .listSandboxes({ pooled: true, states: ['running', 'starting'] })
      .filter(
        (r) =>
          r.templateHash === key.templateHash &&
          r.isolation === key.isolation &&
          r.memoryMiB === key.memoryMiB &&
          r.cpus === key.cpus &&
          r.diskMiB === key.diskMiB &&
          r.pids === key.pids,
      ).length;
  }

  /** Kills spares that no target wants any more (the pool was resized or its template changed). */
  private async trim(): Promise<void> {
    const wanted = new Map<string, number>();
    for (const target of this.deps.targets) {
      try {
        wanted.set(poolKeyString(this.service.resolveShape(target.request)), target.size);
      } catch {
        // unresolvable target: its spares go
      }
    }
    for (const spare of this.deps.store.listSandboxes({ pooled: true, states: ['running'] })) {
      const key = poolKeyString(spare);
      const left = wanted.get(key) ?? 0;
      if (left > 0) wanted.set(key, left - 1);
      // A spare's row goes with it: no one ever reads why.
      else await this.service.kill(spare.id);
    }
  }

  private async fill(signal: AbortSignal): Promise<void> {
    try {
      do {
        this.again = false;
        for (const target of this.deps.targets) {
          let shape: ReturnType<SandboxService['resolveShape']>;
          try {
            shape = this.service.resolveShape(target.request);
          } catch (err) {
            this.deps.logger.warn({ err, target: target.request }, 'warm pool target skipped');
            continue;
          }
          while (!signal.aborted && !this.stopped && this.count(shape) < target.size) {
            try {
              await this.service.boot(shape, undefined, signal);
            } catch (err) {
              if (signal.aborted) return;
              this.deps.logger.warn({ err }, 'warm pool boot failed; retrying later');
              this.deps.clock.setTimer(RETRY_AFTER_FAILURE_MS, () => this.refill());
              break;
            }
          }
        }
      } while (this.again && !signal.aborted && !this.stopped);
      if (!signal.aborted && !this.stopped) await this.trim();
    } finally {
      this.filling = false;
    }
  }
}

function poolKeyString(k: PoolKey): string {
  return [k.templateHash, k.isolation, k.memoryMiB, k.cpus, k.diskMiB, k.pids].join('/');
}
