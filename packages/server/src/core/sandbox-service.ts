import {
  type CreateSandboxRequest,
  type Isolation,
  LIMITS,
  PaddockError,
  type SandboxCapabilities,
  type SandboxState,
  type VolumeMount,
} from '@paddock/protocol';
import { failpoint } from '../failpoints.js';
import type { Runtime, SandboxLaunch } from '../runtime/runtime.js';
import type { PoolKey, SandboxFilter, SandboxRecord, SecretRule, Store } from '../store/store.js';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { NetworkPlan, SandboxNetworks } from './network-plan.js';
import { type Reason, reasonPatch } from './reasons.js';
import { Semaphore } from './semaphore.js';
import { TaskScope } from './task-scope.js';
import type { ResolvedTemplate, TemplateCatalog } from './templates.js';

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

/** What a create asks for beyond the shape: the user's settings of the sandbox. */
export type UserSettings = Pick<
  SandboxRecord,
  'env' | 'metadata' | 'timeoutMs' | 'onTimeout' | 'autoResume' | 'retentionMs' | 'volumes'
> & { network?: NetworkPlan };

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
  networks?: SandboxNetworks;
}

/** Resolved create parameters, defaults applied. */
export interface SandboxShape extends PoolKey {
  template: ResolvedTemplate;
}

/**
 * The sandbox lifecycle: create (from the warm pool when it can), timeouts, kill and
 * listing, over injected runtime, store and clock. Knows nothing of HTTP.
 */
export class SandboxService {
  readonly scope: TaskScope;
  private readonly timers = new Map<string, () => void>();
  private readonly killing = new Map<string, Promise<void>>();
  /** Called after a pooled sandbox is claimed, so the pool can refill. */
  onClaim: (key: PoolKey) => void = () => {};
  /** What expiry does; the pause layer (`core/pause/pause-resume.ts`) replaces it with onTimeout/retention. */
  onExpire: (id: string) => Promise<void> = (id) => this.kill(id, { code: 'timeout', message: 'timeout expired' });

  /** Boots in flight at once; more wait their turn (see Semaphore). */
  private readonly boots: Semaphore;

  constructor(private readonly deps: SandboxServiceDeps) {
    this.scope = new TaskScope(deps.logger);
    this.boots = new Semaphore(deps.maxConcurrentBoots ?? 4);
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

  /** Applies defaults and checks the template and isolation exist. */
  resolveShape(req: CreateSandboxRequest): SandboxShape {
    const name = req.template ?? 'base';
    const template = this.deps.templates.resolve(name);
    if (!template) {
      throw new PaddockError('NOT_FOUND', `template: no template named '${name}' (list them with GET /v1/templates)`, {
        field: 'template',
      });
    }
    const isolation = req.isolation ?? this.deps.defaultIsolation ?? 'container';
    this.runtimeFor(isolation);
    return {
      template,
      templateHash: template.specHash,
      isolation,
      memoryMiB: req.memoryMiB ?? LIMITS.memoryMiB.default,
      cpus: req.cpus ?? LIMITS.cpus.default,
      diskMiB: req.diskMiB ?? LIMITS.diskMiB.default,
      pids: req.pids ?? LIMITS.pids.default,
    };
  }

  /** Creates a sandbox: claims a warm one when one of the same shape is ready, else boots one. */
  /** `secrets`: the create's secret rules (placeholders made by the API layer), for the egress proxy. */
  async create(
    req: CreateSandboxRequest,
    signal?: AbortSignal,
    extras: { secrets?: SecretRule[] } = {},
  ): Promise<SandboxRecord> {
    const shape = this.resolveShape(req);
    const now = this.deps.clock.now();
    const timeoutMs = req.timeoutMs ?? LIMITS.timeoutMs.default;
    const settings: UserSettings = {
      env: req.env ?? {},
      metadata: req.metadata ?? {},
      timeoutMs,
      onTimeout: req.onTimeout ?? 'kill',
      autoResume: req.autoResume ?? false,
      retentionMs: req.retentionMs ?? LIMITS.retentionMs.default,
      volumes: req.volumes ?? [],
    };
    if (settings.onTimeout === 'hibernate' && !this.runtimeFor(shape.isolation).capabilities().hibernateWithMemory) {
      throw new PaddockError(
        'INVALID_ARGUMENT',
        `onTimeout: '${shape.isolation}' sandboxes cannot hibernate with their memory, and a timeout must not drop it silently: use onTimeout 'pause' (or 'kill'), or isolation 'gvisor'`,
        { field: 'onTimeout' },
      );
    }
    const networks = this.deps.networks;
    const planned = networks?.plan(req.network, shape.isolation);
    const network = planned && extras.secrets?.length ? { ...planned, secrets: extras.secrets } : planned;
    // Volumes are bind mounts of the OCI spec, fixed at start: a pooled spare has none. A gVisor
    // spare has no interface, so it serves only egress 'none'.
    const claimed =
      settings.volumes.length > 0 || (network && !networks?.poolable(network, shape.isolation))
        ? undefined
        : this.deps.store.claimPooled(shape, {
            template: shape.template.name,
            createdAtMs: now,
            expiresAtMs: now + timeoutMs,
            ...settings,
          });
    if (claimed && network) {
      // The spare's network was made with egress 'none': give it this sandbox's policy.
      await networks?.apply(claimed.id, network, signal).catch(async (err: unknown) => {
        await this.kill(claimed.id, { code: 'start_failed', message: 'network setup failed' }).catch(() => undefined);
        throw err;
      });
    }
    if (claimed) {
      this.armTimer(claimed);
      this.onClaim(shape);
      return claimed;
    }
    const record = await this.boot(shape, network ? { ...settings, network } : settings, signal);
    this.armTimer(record);
    return record;
  }

  /** Boots a new sandbox of `shape`; a pooled one when `user` is undefined. */
  async boot(shape: SandboxShape, user: UserSettings | undefined, signal?: AbortSignal): Promise<SandboxRecord> {
    const id = this.deps.newId();
    const volumes = user?.volumes ?? [];
    const binds = volumes.length > 0 && this.deps.volumeBinds ? this.deps.volumeBinds(volumes) : [];
    const now = this.deps.clock.now();
    const record: SandboxRecord = {
      id,
      template: shape.template.name,
      templateHash: shape.templateHash,
      isolation: shape.isolation,
      state: 'starting',
      createdAtMs: now,
      expiresAtMs: user ? now + user.timeoutMs : null,
      memoryMiB: shape.memoryMiB,
      cpus: shape.cpus,
      diskMiB: shape.diskMiB,
      pids: shape.pids,
      env: user?.env ?? {},
      metadata: user?.metadata ?? {},
      pooled: user === undefined,
      reason: null,
      reasonCode: null,
      timeoutMs: user?.timeoutMs ?? LIMITS.timeoutMs.default,
      onTimeout: user?.onTimeout ?? 'kill',
      autoResume: user?.autoResume ?? false,
      retentionMs: user?.retentionMs ?? LIMITS.retentionMs.default,
      volumes,
      processesRestarted: false,
    };
    // The row exists before any resource does, so a crash mid-create is found and cleaned on restart.
    this.deps.store.insertSandbox(record);
    const launch: SandboxLaunch = {
      id,
      rootfs: shape.template.rootfs,
      memoryMiB: shape.memoryMiB,
      cpus: shape.cpus,
      diskMiB: shape.diskMiB,
      pids: shape.pids,
      hostname: id,
      agent: { env: shape.template.env, defaultUser: shape.template.user, workdir: shape.template.workdir },
      ...(shape.template.layers ? { layers: shape.template.layers } : {}),
      ...(binds.length > 0 ? { binds } : {}),
    };
    try {
      const runtime = this.runtimeFor(shape.isolation);
      const networks = this.deps.networks;
      await this.boots.run(async () => {
        const plan = user?.network ?? networks?.plan({ egress: 'none' }, shape.isolation);
        const network = networks && plan ? await networks.up(id, shape.isolation, plan, signal) : undefined;
        await runtime.create(network ? { ...launch, network } : launch, signal);
      }, signal);
      failpoint('create.booted');
    } catch (err) {
      await this.deps.networks?.down(id).catch((cleanup: unknown) => {
        this.deps.logger.error({ err: cleanup, sandboxId: id }, 'network cleanup failed; reconcile retries it');
      });
      const reason = err instanceof Error ? err.message : String(err);
      this.deps.store.updateSandbox(id, {
        state: 'error',
        ...reasonPatch({ code: 'start_failed', message: `failed to start: ${reason}` }),
      });
      if (record.pooled) this.deps.store.deleteSandbox(id);
      if (signal?.aborted) throw signal.reason;
      throw err instanceof PaddockError
        ? err
        : new PaddockError('INTERNAL', `sandbox failed to start: ${reason}`, undefined, { cause: err });
    }
    // A kill that raced with the boot wins: the sandbox is already marked stopping.
    const current = this.deps.store.getSandbox(id);
    if (current?.state !== 'starting') {
      await this.kill(id);
      throw new PaddockError('CONFLICT', `sandbox ${id} was killed while it was starting`);
    }
    this.deps.store.updateSandbox(id, { state: 'running' });
    return { ...record, state: 'running' };
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
      this.scope.spawn(`timeout ${record.id}`, () => this.onExpire(record.id));
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
