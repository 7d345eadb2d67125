import { type CreateSandboxRequest, type Isolation, PaddockError, type VolumeMount } from '@paddock/protocol';
import type { Clock } from './clock.js';
import { type CreatePlan, planCreate, type SandboxShape, type UserSettings, userSettings } from './create-plan.js';
import type { CreateSecrets } from './create-secrets.js';
import { failpoint } from './failpoints.js';
import { launchOf } from './launch.js';
import type { Logger } from './logger.js';
import type { SandboxNetworks } from './network-plan.js';
import { type Reason, reasonPatch } from './reasons.js';
import type { Runtime } from './seams/runtime.js';
import type { PoolKey, SandboxRecord, Store } from './seams/store.js';
import type { Semaphore } from './semaphore.js';
import { type StartAgent, startTemplateProcess } from './template-start.js';
import type { ResolvedTemplate, TemplateCatalog } from './templates.js';

/** The lifecycle verbs a create needs from the service that owns it. */
export interface CreateLifecycle {
  runtimeFor(isolation: Isolation): Runtime;
  kill(id: string, reason?: Reason): Promise<void>;
  /** Starts the sandbox's clock: called once the sandbox is handed out. */
  armTimer(record: SandboxRecord): void;
}

export interface CreateSandboxDeps {
  store: Store;
  templates: TemplateCatalog;
  clock: Clock;
  logger: Logger;
  newId: () => string;
  defaultIsolation: Isolation | undefined;
  /** Host dirs of volumes, for the bind mounts of a create (checks that each exists). */
  volumeBinds: ((mounts: VolumeMount[]) => { source: string; destination: string; readOnly: boolean }[]) | undefined;
  /** The sandbox's network (netns, firewall, DNS); without it sandboxes get an empty netns. */
  networks: SandboxNetworks | undefined;
  /** Placeholders and the egress side's values; without it a create with secrets is refused. */
  secrets: CreateSecrets | undefined;
  /** Boots in flight at once. */
  boots: Semaphore;
  lifecycle: CreateLifecycle;
  /** Ids of the users' live sandboxes. */
  liveIds: () => ReadonlySet<string>;
  /** A pooled spare was handed out (the pool refills). */
  claimed: (key: PoolKey) => void;
  /** The agent of a booted sandbox, for its template's start command; without it a template's `start` is refused. */
  startAgent: ((record: SandboxRecord) => StartAgent) | undefined;
}

/**
 * The one create sequence, for `/v1/sandboxes` and the E2B facade alike:
 *
 *   plan (defaults, checks, secret placeholders) → claim a spare or boot (row, network,
 *   runtime) → hand the secrets to the egress side → start the template's process and wait
 *   until it is ready (a spare did this while it was made) → arm the timeout
 *
 * A failure or an abort at any step undoes the steps before it here, not in a route: no
 * sandbox runs, no network or secret stays, and the row ends in a final state saying why
 * (`start_failed`; a pooled spare's row goes).
 */
export class CreateSandbox {
  constructor(private readonly deps: CreateSandboxDeps) {}

  private plan(req: CreateSandboxRequest): CreatePlan {
    return planCreate(req, { ...this.deps, runtimeFor: (isolation) => this.deps.lifecycle.runtimeFor(isolation) });
  }

  async create(req: CreateSandboxRequest, signal?: AbortSignal): Promise<SandboxRecord> {
    const plan = this.plan(req);
    // Values of sandboxes that died without a network detach (egress 'none') go now at the latest.
    if (plan.secrets) this.deps.secrets?.keepOnly(this.deps.liveIds());
    const claimed = await this.claim(plan, signal);
    const record = claimed ?? (await this.boot(plan.shape, plan.settings, signal));
    try {
      // A client that went away gets nothing, and nothing is left running for it.
      signal?.throwIfAborted();
      // The egress side gets the values only now: the sandbox runs and must trust its CA.
      if (plan.secrets) await this.deps.secrets?.commit(record.id, plan.secrets.rules, signal);
      signal?.throwIfAborted();
      // After the secrets: a start command may use them at once. A spare's is ready already.
      if (!claimed) await this.startProcess(record, plan.shape.template, signal);
    } catch (err) {
      this.deps.secrets?.forget(record.id);
      await this.undo(record.id, undoReason(signal, err));
      throw err;
    }
    this.deps.lifecycle.armTimer(record);
    return record;
  }

  /** Boots a new sandbox of `shape`; a pooled spare (no expiry, default settings) when `user` is undefined. */
  async boot(shape: SandboxShape, user: UserSettings | undefined, signal?: AbortSignal): Promise<SandboxRecord> {
    const { store, clock, networks } = this.deps;
    const settings = user ?? userSettings({});
    const now = clock.now();
    const { network: requested, ...stored } = settings;
    const record: SandboxRecord = {
      id: this.deps.newId(),
      template: shape.template.name,
      templateHash: shape.templateHash,
      isolation: shape.isolation,
      state: 'starting',
      createdAtMs: now,
      expiresAtMs: user ? now + settings.timeoutMs : null,
      memoryMiB: shape.memoryMiB,
      cpus: shape.cpus,
      diskMiB: shape.diskMiB,
      pids: shape.pids,
      pooled: user === undefined,
      reason: null,
      reasonCode: null,
      processesRestarted: false,
      ...stored,
    };
    const id = record.id;
    const binds = record.volumes.length > 0 && this.deps.volumeBinds ? this.deps.volumeBinds(record.volumes) : [];
    // The row exists before any resource does, so a crash mid-create is found and cleaned on restart.
    store.insertSandbox(record);
    try {
      const runtime = this.deps.lifecycle.runtimeFor(shape.isolation);
      await this.deps.boots.run(async () => {
        const plan = requested ?? networks?.plan({ egress: 'none' }, shape.isolation);
        const network = networks && plan ? await networks.up(id, shape.isolation, plan, signal) : undefined;
        const launch = launchOf(record, shape.template, binds);
        await runtime.create(network ? { ...launch, network } : launch, signal);
      }, signal);
      failpoint('create.booted');
    } catch (err) {
      await networks?.down(id).catch((cleanup: unknown) => {
        this.deps.logger.error({ err: cleanup, sandboxId: id }, 'network cleanup failed; reconcile retries it');
      });
      const reason = err instanceof Error ? err.message : String(err);
      store.updateSandbox(id, {
        state: 'error',
        ...reasonPatch({ code: 'start_failed', message: `failed to start: ${reason}` }),
      });
      if (record.pooled) store.deleteSandbox(id);
      if (signal?.aborted) throw signal.reason;
      throw err instanceof PaddockError
        ? err
        : new PaddockError('INTERNAL', `sandbox failed to start: ${reason}`, undefined, { cause: err });
    }
    // A spare is claimable once it runs, so its template's process must be ready before.
    if (record.pooled) {
      try {
        await this.startProcess(record, shape.template, signal);
      } catch (err) {
        await this.undo(id, undoReason(signal, err));
        throw err;
      }
    }
    // A kill that raced with the boot wins: the sandbox is already marked stopping.
    if (store.getSandbox(id)?.state !== 'starting') {
      await this.deps.lifecycle.kill(id);
      throw new PaddockError('CONFLICT', `sandbox ${id} was killed while it was starting`);
    }
    store.updateSandbox(id, { state: 'running' });
    return { ...record, state: 'running' };
  }

  /** Starts the template's `start` command (if any) and waits until it is ready. */
  private async startProcess(record: SandboxRecord, template: ResolvedTemplate, signal?: AbortSignal): Promise<void> {
    if (!template.start) return;
    const startAgent = this.deps.startAgent;
    if (!startAgent) {
      throw new PaddockError(
        'INTERNAL',
        `template '${template.name}' has a start command, but this server cannot run it`,
      );
    }
    await startTemplateProcess({ clock: this.deps.clock, agentFor: startAgent }, { record, template }, signal);
  }

  /**
   * A running spare of the plan's shape, given the user's settings and network policy; undefined
   * when none is ready or none can serve (volumes are bind mounts fixed at start, and a gVisor
   * spare has no interface, so it serves only egress 'none').
   */
  private async claim(plan: CreatePlan, signal: AbortSignal | undefined): Promise<SandboxRecord | undefined> {
    const { shape, settings } = plan;
    const { network, ...stored } = settings;
    const networks = this.deps.networks;
    if (stored.volumes.length > 0 || (network && !networks?.poolable(network, shape.isolation))) return undefined;
    // A spare's start command runs with the template's env only: one that must see this
    // create's env (or secrets) boots fresh.
    if (shape.template.start && Object.keys(stored.env).length > 0) return undefined;
    const now = this.deps.clock.now();
    const claimed = this.deps.store.claimPooled(shape, {
      template: shape.template.name,
      createdAtMs: now,
      expiresAtMs: now + stored.timeoutMs,
      ...stored,
    });
    if (!claimed) return undefined;
    // The spare is gone whatever happens next: the pool makes another.
    this.deps.claimed(shape);
    if (network && networks) {
      // The spare's network was made with egress 'none': give it this sandbox's policy.
      await networks.apply(claimed.id, network, signal).catch(async (err: unknown) => {
        await this.undo(claimed.id, { code: 'start_failed', message: 'network setup failed' });
        throw err;
      });
    }
    return claimed;
  }

  /** Kills a sandbox whose create failed after it ran; a failure to clean is logged (reconcile retries). */
  private async undo(id: string, reason: Reason): Promise<void> {
    await this.deps.lifecycle.kill(id, reason).catch((err: unknown) => {
      this.deps.logger.error({ err, sandboxId: id }, 'could not remove the sandbox of a failed create');
    });
  }
}

/** Why a create that got as far as a running sandbox was undone. */
function undoReason(signal: AbortSignal | undefined, err: unknown): Reason {
  if (signal?.aborted) return { code: 'start_failed', message: 'the create was cancelled (the client went away)' };
  if (err instanceof PaddockError && err.code === 'TEMPLATE_START_FAILED') {
    return { code: 'start_failed', message: err.message.split('\n')[0] ?? err.message };
  }
  return { code: 'start_failed', message: 'secrets could not be set up' };
}
