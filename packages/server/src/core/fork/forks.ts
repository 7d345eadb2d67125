import { PaddockError } from '@paddock/protocol';
import type { Clock } from '../clock.js';
import { failpoint } from '../failpoints.js';
import { launchOf } from '../launch.js';
import { type PauseResume, stoppedServing } from '../pause/pause-resume.js';
import { apiErrorOfRuntime } from '../runtime-failure.js';
import type { SandboxService } from '../sandbox-service.js';
import type { SandboxRecord, Store } from '../seams/store.js';
import type { TemplateCatalog } from '../templates.js';

export interface ForksDeps {
  service: SandboxService;
  pause: PauseResume;
  store: Store;
  templates: TemplateCatalog;
  clock: Clock;
  newId: () => string;
  /** The largest `count` one fork may ask for. */
  maxForkCount: number;
  volumeBinds: (record: SandboxRecord) => { source: string; destination: string; readOnly: boolean }[];
  onAgentGone?: (id: string, reason: PaddockError) => void;
}

/**
 * Fork: N new sandboxes from one checkpoint of a running sandbox: identical memory, each
 * with its own copy of the parent's writable layer (later writes are private), the same
 * limits, settings and volumes. While it runs, the parent is stored as `hibernating`: the
 * checkpoint is its temp checkpoint, so a crash mid-fork leaves it restorable.
 */
export class Forks {
  constructor(private readonly deps: ForksDeps) {}

  async fork(
    parentId: string,
    opts: { count: number; metadata?: Record<string, string> | undefined },
    signal?: AbortSignal,
  ): Promise<SandboxRecord[]> {
    const { service, store, clock } = this.deps;
    if (opts.count < 1 || opts.count > this.deps.maxForkCount) {
      throw new PaddockError(
        'INVALID_ARGUMENT',
        `count: must be 1 to ${this.deps.maxForkCount} (the server's maximum fork count), got ${opts.count}`,
        { field: 'count' },
      );
    }
    const parent = await this.deps.pause.ensureRunning(parentId, signal);
    const runtime = service.runtimeFor(parent.isolation);
    service.requireCheckpointable(parent, 'fork');
    if (!runtime.capabilities().fork) {
      throw new PaddockError(
        'INVALID_ARGUMENT',
        `fork needs isolation 'gvisor' (checkpoints); sandbox '${parentId}' is '${parent.isolation}'. Snapshot it and create from the snapshot for a filesystem-only copy`,
        { field: 'isolation', isolation: parent.isolation },
      );
    }
    const template = this.deps.templates.resolveHash(parent.templateHash);
    if (!template) throw new PaddockError('CONFLICT', `the template of sandbox '${parentId}' no longer exists`);
    const now = clock.now();
    const children: SandboxRecord[] = [];
    for (let i = 0; i < opts.count; i++) {
      const child: SandboxRecord = {
        ...parent,
        id: this.deps.newId(),
        state: 'starting',
        createdAtMs: now,
        expiresAtMs: now + parent.timeoutMs,
        metadata: { ...parent.metadata, ...opts.metadata },
        pooled: false,
        reason: null,
        reasonCode: null,
        processesRestarted: false,
      };
      // Rows first: a crash mid-fork leaves `starting` rows that reconcile cleans.
      store.insertSandbox(child);
      children.push(child);
    }
    const binds = this.deps.volumeBinds(parent);
    store.updateSandbox(parentId, { state: 'hibernating' });
    this.deps.onAgentGone?.(parentId, stoppedServing(parent, 'forked'));
    try {
      await runtime.fork(
        parentId,
        children.map((c) => launchOf(c, template, binds)),
        signal,
      );
      failpoint('fork.started');
    } catch (err) {
      for (const child of children) store.deleteSandbox(child.id);
      const state = await runtime.state(parentId).catch(() => 'absent' as const);
      store.updateSandbox(parentId, state === 'running' ? { state: 'running' } : { state: 'hibernated' });
      if (err instanceof PaddockError) throw err;
      throw (
        apiErrorOfRuntime(err) ??
        new PaddockError('INTERNAL', `fork failed: ${err instanceof Error ? err.message : String(err)}`)
      );
    }
    store.updateSandbox(parentId, { state: 'running' });
    return children.map((child) => {
      store.updateSandbox(child.id, { state: 'running' });
      const running: SandboxRecord = { ...child, state: 'running' };
      service.armTimer(running);
      return running;
    });
  }
}
