import {
  type CreateSandboxRequest,
  type Isolation,
  PaddockError,
  type SandboxCapabilities,
  type SandboxState,
  type VolumeMount,
} from '@paddock/protocol';
import type { Clock } from './clock.js';
import { resolveShape, type SandboxShape, type UserSettings } from './create-plan.js';
import { CreateSandbox } from './create-sandbox.js';
import type { CreateSecrets } from './create-secrets.js';
import { failpoint } from './failpoints.js';
import type { Logger } from './logger.js';
import type { SandboxNetworks } from './network-plan.js';
import { type Reason, reasonPatch } from './reasons.js';
import type { Runtime } from './seams/runtime.js';
import type { PoolKey, SandboxFilter, SandboxRecord, Store } from './seams/store.js';
import { Semaphore } from './semaphore.js';
import { type Subscribable, Subscribers } from './subscribers.js';
import { TaskScope } from './task-scope.js';
import { type StartAgent, startTemplateProcess } from './template-start.js';
import type { TemplateCatalog } from './templates.js';

/** States from which nothing more happens. */
export const FINAL_STATES: readonly SandboxState[] = ['killed', 'error'];
/** States listed by default. */
export const LIVE_STATES: readonly SandboxState[] = [
  'starting',
  'running',
  'stopping',
  'pausing',
  'paused',
  'hibernating',
  'hibernated',
  'resuming',
];
/** States in which the sandbox exists but does not run: calls resume it (autoResume) or fail. */
export const PAUSED_STATES: readonly SandboxState[] = ['pausing', 'paused', 'hibernating', 'hibernated', 'resuming'];

/** What a sandbox's deadline does (the pause layer: onTimeout, retention); without one, expiry kills. */
export interface ExpiryPolicy {
  expire(id: string): Promise<void>;
}

export interface SandboxServiceDeps {
  /** Sandbox boots allowed to run at once (default 4). */
  maxConcurrentBoots?: number;
  store: Store;
  runtimes: Partial<Record<Isolation, Runtime>>;
  templates: TemplateCatalog;
  clock: Clock;
  logger: Logger;
  newId: () => string;
  /** Default isolation when a request names none. */
  defaultIsolation?: Isolation;
  /** Host dirs of volumes, for the bind mounts of a create (checks that each exists). */
  volumeBinds?: (mounts: VolumeMount[]) => { source: string; destination: string; readOnly: boolean }[];
  /** Each sandbox's network (netns, firewall, DNS); without it sandboxes get an empty netns. */
  networks?: SandboxNetworks | undefined;
  /** The create's secrets (placeholders, the egress side's values); without it secrets are refused. */
  secrets?: CreateSecrets | undefined;
  /** What expiry does (see ExpiryPolicy). */
  expiry?: ExpiryPolicy;
  /** The agent of a booted sandbox, to start its template's `start` command (see template-start.ts). */
  startAgent?: (record: SandboxRecord) => StartAgent;
}

/**
 * The sandbox lifecycle: create (from the warm pool when it can), timeouts, kill and
 * listing, over injected runtime, store and clock. Knows nothing of HTTP.
 */
export class SandboxService {
  readonly scope: TaskScope;
  private readonly timers = new Map<string, () => void>();
  private readonly killing = new Map<string, Promise<void>>();
  private readonly claimed = new Subscribers<PoolKey>();
  /** A pooled spare was handed out (the warm pool listens, to refill). */
  readonly claims: Subscribable<PoolKey> = this.claimed;
  private readonly expiry: ExpiryPolicy;
  /** The create sequence (see create-sandbox.ts). */
  private readonly creation: CreateSandbox;

  constructor(private readonly deps: SandboxServiceDeps) {
    this.scope = new TaskScope(deps.logger);
    this.expiry = deps.expiry ?? { expire: (id) => this.kill(id, { code: 'timeout', message: 'timeout expired' }) };
    this.creation = new CreateSandbox({
      store: deps.store,
      templates: deps.templates,
      clock: deps.clock,
      logger: deps.logger,
      newId: deps.newId,
      defaultIsolation: deps.defaultIsolation,
      volumeBinds: deps.volumeBinds,
      networks: deps.networks,
      secrets: deps.secrets,
      // Boots in flight at once; more wait their turn (see Semaphore).
      boots: new Semaphore(deps.maxConcurrentBoots ?? 4),
      lifecycle: this,
      liveIds: () => new Set(this.list().map((r) => r.id)),
      claimed: (key) => this.claimed.emit(key),
      startAgent: deps.startAgent,
    });
  }

  runtimeFor(isolation: Isolation): Runtime {
    const runtime = this.deps.runtimes[isolation];
    if (!runtime) {
      throw new PaddockError('INVALID_ARGUMENT', `isolation: '${isolation}' is not available on this server`, {
        field: 'isolation',
      });
    }
    return runtime;
  }

  /** What this sandbox supports: its runtime's capabilities, less checkpoints on gVisor's host network stack. */
  capabilitiesOf(record: SandboxRecord): SandboxCapabilities {
    const capabilities = this.runtimeFor(record.isolation).capabilities();
    return this.deps.networks?.usesHostStack(record.id, record.isolation)
      ? { ...capabilities, hibernateWithMemory: false, fork: false }
      : capabilities;
  }

  /** Throws a typed error when `what` needs a checkpoint that this sandbox's network forbids. */
  requireCheckpointable(record: SandboxRecord, what: 'hibernate with keepMemory' | 'fork'): void {
    if (!this.deps.networks?.usesHostStack(record.id, record.isolation)) return;
    throw new PaddockError(
      'CONFLICT',
      `cannot ${what}: sandbox '${record.id}' runs gVisor on the host's network stack (network.egress 'open' or 'allowlist'), which runsc cannot checkpoint. Hibernate with keepMemory: false, or create the sandbox with network.egress 'none'`,
      { sandboxId: record.id, reason: 'gvisor-host-network' },
    );
  }

  /** Applies the shape's defaults and checks the template and isolation exist. */
  resolveShape(req: CreateSandboxRequest): SandboxShape {
    return resolveShape(req, { ...this.deps, runtimeFor: (isolation) => this.runtimeFor(isolation) });
  }

  /**
   * Creates a sandbox (claims a warm spare of the same shape when one can serve, else boots
   * one) through the one create sequence: defaults, secrets, network, runtime, rollback.
   */
  create(req: CreateSandboxRequest, signal?: AbortSignal): Promise<SandboxRecord> {
    return this.creation.create(req, signal);
  }

  /** Boots a new sandbox of `shape`; a pooled spare when `user` is undefined. */
  boot(shape: SandboxShape, user: UserSettings | undefined, signal?: AbortSignal): Promise<SandboxRecord> {
    return this.creation.boot(shape, user, signal);
  }

  /**
   * Starts the template's start command again in a sandbox whose processes restarted (a resume
   * from a hibernation without memory, a lost sandbox brought back) and waits until it is
   * ready. A failure (or an abort) is logged, never thrown: the sandbox already runs and holds
   * the user's files, so it stays running, and the start process shows in its process list.
   */
  async restartTemplateProcess(record: SandboxRecord, signal?: AbortSignal): Promise<void> {
    const template = this.deps.templates.resolveHash(record.templateHash);
    if (!template?.start || !this.deps.startAgent) return;
    const deps = { clock: this.deps.clock, agentFor: this.deps.startAgent };
    await startTemplateProcess(deps, { record, template }, signal).catch((err: unknown) => {
      this.deps.logger.warn({ err, sandboxId: record.id }, 'template start command failed after a restart');
    });
  }

  /** The sandbox, or NOT_FOUND. Pooled spares are invisible to users. */
  get(id: string): SandboxRecord {
    const record = this.deps.store.getSandbox(id);
    if (!record || record.pooled) {
      throw new PaddockError('NOT_FOUND', `sandbox '${id}' does not exist`, { sandboxId: id });
    }
    return record;
  }

  /** The sandbox if it is running; a typed error naming its state otherwise. */
  requireRunning(id: string): SandboxRecord {
    const record = this.get(id);
    if (PAUSED_STATES.includes(record.state)) {
      throw new PaddockError(
        'SANDBOX_PAUSED',
        `sandbox '${id}' is ${record.state}: resume it first (POST /v1/sandboxes/${id}/resume), or create it with autoResume: true`,
        { sandboxId: id, state: record.state, ...(record.reasonCode ? { reasonCode: record.reasonCode } : {}) },
      );
    }
    if (record.state !== 'running') {
      const why = record.reason ? ` (${record.reason})` : '';
      throw new PaddockError('SANDBOX_NOT_RUNNING', `sandbox '${id}' is ${record.state}${why}`, {
        sandboxId: id,
        state: record.state,
        ...(record.reasonCode ? { reasonCode: record.reasonCode } : {}),
      });
    }
    return record;
  }

  list(filter: Omit<SandboxFilter, 'pooled'> = {}): SandboxRecord[] {
    return this.deps.store.listSandboxes({
      states: filter.states && filter.states.length > 0 ? filter.states : LIVE_STATES,
      ...(filter.metadata ? { metadata: filter.metadata } : {}),
      pooled: false,
    });
  }

  /** Sets the sandbox to expire `timeoutMs` from now (extends or shortens). */
  setTimeout(id: string, timeoutMs: number): SandboxRecord {
    const record = this.requireRunning(id);
    const expiresAtMs = this.deps.clock.now() + timeoutMs;
    this.deps.store.updateSandbox(id, { expiresAtMs, timeoutMs });
    const updated = { ...record, expiresAtMs, timeoutMs };
    this.armTimer(updated);
    return updated;
  }

  /**
   * Kills the sandbox and frees all its resources; resolves when they are gone.
   * Killing a killed sandbox is a no-op; concurrent kills share one destroy.
   */
  kill(id: string, reason?: Reason): Promise<void> {
    const inFlight = this.killing.get(id);
    if (inFlight) return inFlight;
    const record = this.deps.store.getSandbox(id);
    if (!record) return Promise.reject(new PaddockError('NOT_FOUND', `sandbox '${id}' does not exist`));
    if (record.state === 'killed') return Promise.resolve();
    this.cancelTimer(id);
    this.deps.store.updateSandbox(id, { state: 'stopping', ...(reason ? reasonPatch(reason) : {}) });
    failpoint('kill.stopping');
    const done = this.destroy(record, reason).finally(() => this.killing.delete(id));
    this.killing.set(id, done);
    return done;
  }

  private async destroy(record: SandboxRecord, reason?: Reason): Promise<void> {
    const runtime = this.deps.runtimes[record.isolation];
    try {
      await runtime?.destroy(record.id);
      failpoint('kill.destroyed');
      await this.deps.networks?.down(record.id);
    } catch (err) {
      this.deps.logger.error({ err, sandboxId: record.id }, 'destroy failed; will retry on next start');
      this.deps.store.updateSandbox(record.id, {
        state: 'error',
        ...reasonPatch({ code: 'internal', message: 'failed to free resources' }),
      });
      throw err;
    }
    if (record.pooled) this.deps.store.deleteSandbox(record.id);
    else this.deps.store.updateSandbox(record.id, { state: 'killed', ...(reason ? reasonPatch(reason) : {}) });
  }

  /**
   * Marks a sandbox that died on its own (its agent killed, a gVisor OOM; see `lostReason`).
   * What the user wrote is kept: the sandbox becomes `hibernated` with its disk (a resume
   * starts it again from its writable layer, as after `hibernate({ keepMemory: false })`),
   * kept for its retention like any hibernated sandbox.
   */
  markLost(id: string, reason: Reason): void {
    const record = this.deps.store.getSandbox(id);
    if (!record || FINAL_STATES.includes(record.state)) return;
    this.cancelTimer(id);
    const expiresAtMs = this.deps.clock.now() + record.retentionMs;
    this.deps.store.updateSandbox(id, { state: 'hibernated', expiresAtMs, ...reasonPatch(reason) });
    this.deps.logger.warn({ sandboxId: id, reason: reason.message }, 'sandbox lost; hibernated with its disk');
    this.armTimer({ ...record, state: 'hibernated', expiresAtMs });
  }

  armTimer(record: SandboxRecord): void {
    this.cancelTimer(record.id);
    if (record.expiresAtMs === null) return;
    const delay = Math.max(0, record.expiresAtMs - this.deps.clock.now());
    const cancel = this.deps.clock.setTimer(delay, () => {
      this.timers.delete(record.id);
      this.scope.spawn(`timeout ${record.id}`, () => this.expiry.expire(record.id));
    });
    this.timers.set(record.id, cancel);
  }

  private cancelTimer(id: string): void {
    this.timers.get(id)?.();
    this.timers.delete(id);
  }

  /** Stops timers and waits for background work; sandboxes keep running. */
  async shutdown(): Promise<void> {
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    await this.scope.drain();
    await Promise.allSettled([...this.killing.values()]);
  }
}
