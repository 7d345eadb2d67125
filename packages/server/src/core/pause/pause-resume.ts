import { PaddockError } from '@paddock/protocol';
import type { Clock } from '../clock.js';
import { failpoint } from '../failpoints.js';
import { KeyedQueue } from '../keyed-queue.js';
import type { Logger } from '../logger.js';
import { CLEARED_REASON, type Reason, reasonPatch } from '../reasons.js';
import { apiErrorOfRuntime } from '../runtime-failure.js';
import { type ExpiryPolicy, PAUSED_STATES, type SandboxService } from '../sandbox-service.js';
import type { SandboxRecord, Store } from '../seams/store.js';

export interface PauseResumeDeps {
  service: SandboxService;
  store: Store;
  clock: Clock;
  logger: Logger;
  /**
   * Called before a sandbox stops serving (hibernate, fork): the host drops its agent
   * connections and ends the calls in flight with `reason`, which a frozen agent would leave hanging.
   */
  onAgentGone?: (id: string, reason: PaddockError) => void;
  /**
   * Called before a sandbox is frozen: calls in flight end with `reason`; followers of process
   * output stay open, frozen with it, and go on after the resume.
   */
  onPause?: (id: string, reason: PaddockError) => void;
}

/**
 * Pause, resume and hibernate: the transitions between `running`, `paused` and `hibernated`.
 *
 *   running ──pause──▶ pausing ──▶ paused ──resume──▶ running
 *   running|paused ──hibernate──▶ hibernating ──▶ hibernated ──resume──▶ resuming ──▶ running
 *
 * The transitional state is stored before the runtime is touched, so a crash in between is
 * found by reconcile. Operations on one sandbox run one at a time (a per-id queue), so an
 * autoResume racing a pause cannot interleave. Expiry follows `onTimeout`; a paused or
 * hibernated sandbox expires `retentionMs` after it stopped running, and is then deleted.
 */
export class PauseResume implements ExpiryPolicy {
  /** One state change at a time per sandbox. */
  private readonly queue = new KeyedQueue();

  constructor(private readonly deps: PauseResumeDeps) {}

  /** Freezes a running sandbox in RAM. Idempotent on paused and hibernated sandboxes. */
  pause(id: string, signal?: AbortSignal): Promise<SandboxRecord> {
    return this.serial(id, async () => {
      const record = this.deps.service.get(id);
      if (record.state === 'paused' || record.state === 'hibernated') return record;
      this.requireState(record, 'pause');
      this.deps.store.updateSandbox(id, { state: 'pausing' });
      // Calls in flight end now with a typed error, rather than hang until a resume.
      this.deps.onPause?.(id, stoppedServing(record, 'paused'));
      try {
        await this.deps.service.runtimeFor(record.isolation).pause(id, signal);
        failpoint('pause.frozen');
      } catch (err) {
        this.deps.store.updateSandbox(id, { state: 'running' });
        throw this.asInternal(err, id, 'pause failed');
      }
      return this.stopped(record, 'paused');
    });
  }

  /** Brings a paused or hibernated sandbox back. Idempotent on a running one. */
  resume(id: string, signal?: AbortSignal): Promise<SandboxRecord> {
    return this.serial(id, async () => {
      const record = this.deps.service.get(id);
      if (record.state === 'running') return record;
      const runtime = this.deps.service.runtimeFor(record.isolation);
      if (record.state === 'paused') {
        await runtime.resume(id, signal);
        failpoint('resume.thawed');
        return this.running(record, {});
      }
      if (record.state !== 'hibernated') this.requireState(record, 'resume');
      this.deps.store.updateSandbox(id, { state: 'resuming' });
      try {
        const mode = await runtime.wake(id, signal);
        failpoint('wake.started');
        const restarted = mode === 'filesystem';
        // Processes started fresh: so does the template's start command (see restartTemplateProcess).
        if (restarted) await this.deps.service.restartTemplateProcess(record, signal);
        return this.running(record, { processesRestarted: restarted });
      } catch (err) {
        // The disk (and any checkpoint) is still there: stay hibernated, so a retry can work.
        this.deps.store.updateSandbox(id, { state: 'hibernated' });
        throw this.asInternal(err, id, 'resume from hibernation failed');
      }
    });
  }

  /**
   * Writes the sandbox to disk and frees its RAM. `keepMemory` (default true) needs a runtime
   * that can checkpoint; crun sandboxes must pass `false` explicitly to keep only the disk.
   */
  hibernate(id: string, keepMemory: boolean | undefined, signal?: AbortSignal): Promise<SandboxRecord> {
    return this.serial(id, async () => {
      const record = this.deps.service.get(id);
      if (record.state === 'hibernated') return record;
      if (record.state !== 'paused') this.requireState(record, 'hibernate');
      const runtime = this.deps.service.runtimeFor(record.isolation);
      const withMemory = keepMemory ?? true;
      if (withMemory) this.deps.service.requireCheckpointable(record, 'hibernate with keepMemory');
      if (withMemory && !runtime.capabilities().hibernateWithMemory) {
        throw new PaddockError(
          'INVALID_ARGUMENT',
          `keepMemory: '${record.isolation}' sandboxes cannot save their memory and processes; pass keepMemory: false to keep only the filesystem (processes restart on resume), or pause instead`,
          { field: 'keepMemory', isolation: record.isolation },
        );
      }
      const before = record.state;
      this.deps.store.updateSandbox(id, { state: 'hibernating' });
      this.deps.onAgentGone?.(id, stoppedServing(record, 'hibernated'));
      try {
        await runtime.hibernate(id, withMemory ? 'memory' : 'filesystem', signal);
      } catch (err) {
        const now = await runtime.state(id).catch(() => 'absent' as const);
        const back = now === 'running' ? 'running' : now === 'paused' ? before : 'error';
        this.deps.store.updateSandbox(id, {
          state: back,
          ...(back === 'error'
            ? reasonPatch({ code: 'internal', message: 'hibernate failed and the sandbox did not survive' })
            : {}),
        });
        throw this.asInternal(err, id, 'hibernate failed');
      }
      return this.stopped(record, 'hibernated');
    });
  }

  /**
   * A runtime failure as the caller sees it: typed errors pass; anything else is logged with
   * its cause (runsc's stack traces, host paths) and answered as INTERNAL without it.
   */
  private asInternal(err: unknown, sandboxId: string, what: string): PaddockError {
    if (err instanceof PaddockError) return err;
    const known = apiErrorOfRuntime(err);
    if (known) return known;
    this.deps.logger.error({ err, sandboxId }, what);
    return new PaddockError('INTERNAL', `${what} (the cause is in the server log)`, { sandboxId }, { cause: err });
  }

  /**
   * The running sandbox for a call that needs one: a paused or hibernated sandbox is resumed
   * when it was created with `autoResume`, else the call fails with SANDBOX_PAUSED.
   */
  async ensureRunning(id: string, signal?: AbortSignal): Promise<SandboxRecord> {
    const record = this.deps.service.get(id);
    if (record.state === 'running' || !PAUSED_STATES.includes(record.state) || !record.autoResume) {
      return this.deps.service.requireRunning(id);
    }
    return this.resume(id, signal);
  }

  /**
   * Expiry: `onTimeout` for a running sandbox; deletion once a stopped one's retention is over.
   * The service's expiry policy (wired in `lifecycle.ts`).
   */
  async expire(id: string): Promise<void> {
    const record = this.deps.store.getSandbox(id);
    if (!record) return;
    if (record.state === 'paused' || record.state === 'hibernated') {
      await this.deps.service.kill(id, { code: 'retention', message: 'retention expired' });
      return;
    }
    if (record.state !== 'running' || record.onTimeout === 'kill') {
      await this.deps.service.kill(id, { code: 'timeout', message: 'timeout expired' });
      return;
    }
    this.deps.logger.info({ sandboxId: id, onTimeout: record.onTimeout }, 'timeout expired');
    const state = record.onTimeout === 'pause' ? 'paused' : 'hibernated';
    if (state === 'paused') await this.pause(id);
    else await this.hibernate(id, true);
    await this.explain(id, state, {
      code: 'timeout',
      message: `timeout expired: ${state} (onTimeout: '${record.onTimeout}')`,
    });
  }

  /** Records why the sandbox is `state`, unless a call queued after the change already moved it on. */
  private explain(id: string, state: 'paused' | 'hibernated', reason: Reason): Promise<void> {
    return this.serial(id, async () => {
      if (this.deps.store.getSandbox(id)?.state === state) this.deps.store.updateSandbox(id, reasonPatch(reason));
    });
  }

  private requireState(record: SandboxRecord, verb: string): void {
    if (record.state === 'running') return;
    const transitional = PAUSED_STATES.includes(record.state);
    throw new PaddockError(
      transitional ? 'CONFLICT' : 'SANDBOX_NOT_RUNNING',
      transitional
        ? `sandbox '${record.id}' is ${record.state}; retry the ${verb} once that finishes`
        : `cannot ${verb} sandbox '${record.id}': it is ${record.state}${record.reason ? ` (${record.reason})` : ''}`,
      { sandboxId: record.id, state: record.state },
    );
  }

  /**
   * Now paused or hibernated: the clock runs towards the retention, not the timeout. A caller
   * asked for it, so an older reason no longer applies (an expiry adds its own, see `explain`).
   */
  private stopped(record: SandboxRecord, state: 'paused' | 'hibernated'): SandboxRecord {
    const expiresAtMs = this.deps.clock.now() + record.retentionMs;
    this.deps.store.updateSandbox(record.id, { state, expiresAtMs, ...CLEARED_REASON });
    const updated = { ...record, state, expiresAtMs, ...CLEARED_REASON };
    this.deps.service.armTimer(updated);
    return updated;
  }

  /** Running again: a fresh `timeoutMs` from now, and whatever stopped it no longer applies. */
  private running(record: SandboxRecord, patch: { processesRestarted?: boolean }): SandboxRecord {
    const expiresAtMs = this.deps.clock.now() + record.timeoutMs;
    this.deps.store.updateSandbox(record.id, { state: 'running', expiresAtMs, ...patch, ...CLEARED_REASON });
    const updated: SandboxRecord = { ...record, ...patch, ...CLEARED_REASON, state: 'running', expiresAtMs };
    this.deps.service.armTimer(updated);
    return updated;
  }

  private serial<T>(id: string, op: () => Promise<T>): Promise<T> {
    return this.queue.run(id, op);
  }
}

/**
 * The error that ends a call in flight when its sandbox stops serving: SANDBOX_PAUSED, saying
 * how to go on. A command's stream owned that command, so it ends with it; background
 * processes keep their output and are followed again by offset once the sandbox runs.
 */
export function stoppedServing(record: SandboxRecord, now: 'paused' | 'hibernated' | 'forked'): PaddockError {
  const next =
    now === 'forked'
      ? 'call again once the fork is done'
      : record.autoResume
        ? 'the next call resumes it (autoResume)'
        : `resume it (POST /v1/sandboxes/${record.id}/resume)`;
  return new PaddockError(
    'SANDBOX_PAUSED',
    `sandbox '${record.id}' was ${now === 'forked' ? 'checkpointed for a fork' : now} while this call was in flight: a running command was stopped; ${next}. Background processes keep their output: follow them again from their last offset`,
    { sandboxId: record.id, state: now === 'forked' ? 'hibernating' : now },
  );
}
