import type { Isolation } from '@paddock/protocol';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { CLEARED_REASON, DISK_KEPT, type Reason, reasonPatch } from '../reasons.js';
import { PAUSED_STATES, type SandboxService } from '../sandbox-service.js';
import type { Runtime } from '../seams/runtime.js';
import type { SandboxRecord, Store } from '../seams/store.js';

/**
 * After a restart, settles sandboxes that were paused, hibernated or between those states
 * when the server stopped (kill -9 included), so that each is running, paused or
 * hibernated again — never lost while its disk or checkpoint exists:
 * - pausing/paused: whatever the runtime says (frozen → paused, running → running);
 * - hibernating: a running sandbox stays running (the checkpoint never finished); a
 *   stopped one is hibernated, and resumes from the complete or temp checkpoint, or from its
 *   disk alone when there is none;
 * - resuming: running if the runtime runs it, else hibernated again (the resume is retried).
 * Whatever becomes `running` must answer first (see `adoptRunning`).
 */
export async function reconcilePaused(deps: {
  store: Store;
  runtimes: Partial<Record<Isolation, Runtime>>;
  service: SandboxService;
  clock: Clock;
  logger: Logger;
  hostRebooted?: boolean;
}): Promise<number> {
  const { store, runtimes, service, clock, logger } = deps;
  let settled = 0;
  for (const record of store.listSandboxes({ states: PAUSED_STATES })) {
    const runtime = runtimes[record.isolation];
    if (!runtime) continue;
    const now = await runtime.state(record.id);
    const settleAs = async (state: 'running' | 'paused' | 'hibernated') => {
      if (state === 'running') await adoptRunning({ store, service, clock, logger }, record, runtime);
      else settle({ store, service, clock }, record, state);
      settled++;
    };
    if (record.state === 'pausing' || record.state === 'paused') {
      if (now === 'paused') await settleAs('paused');
      else if (now === 'running') await settleAs('running');
      else if (now === 'stopped') {
        keepDisk({ store, service, clock, logger }, record, restartReason(now, deps.hostRebooted));
        settled++;
      } else lose(store, record, restartReason(now, deps.hostRebooted), logger);
    } else if (record.state === 'hibernating' || record.state === 'hibernated') {
      if (now === 'running' || now === 'paused') {
        if (record.state === 'hibernated') logger.warn({ sandboxId: record.id }, 'a hibernated sandbox was running');
        if (now === 'paused') await runtime.resume(record.id);
        await settleAs('running');
      } else {
        await settleAs('hibernated');
      }
    } else if (record.state === 'resuming') {
      await settleAs(now === 'running' ? 'running' : 'hibernated');
    }
  }
  return settled;
}

interface SettleDeps {
  store: Store;
  service: SandboxService;
  clock: Clock;
}

/** Stores `state` with its timer: a kept expiry when the state does not change, a fresh one otherwise. */
function settle(deps: SettleDeps, record: SandboxRecord, state: 'running' | 'paused' | 'hibernated', reason?: Reason) {
  const expiresAtMs = deps.clock.now() + (state === 'running' ? record.timeoutMs : record.retentionMs);
  const kept = record.state === state && record.expiresAtMs !== null;
  const updated: SandboxRecord = { ...record, state, expiresAtMs: kept ? record.expiresAtMs : expiresAtMs };
  deps.store.updateSandbox(record.id, {
    state,
    expiresAtMs: updated.expiresAtMs,
    // A running sandbox has nothing to explain; a kept pause keeps its reason (e.g. its timeout).
    ...(reason !== undefined ? reasonPatch(reason) : state === 'running' ? CLEARED_REASON : {}),
  });
  deps.service.armTimer(updated);
}

/**
 * A sandbox the runtime runs after a restart is `running` only once its agent answers (an
 * interrupted checkpoint or restore leaves the agent quiesced: the runtime wakes it). One whose
 * agent stays silent is hibernated instead, its disk (and any checkpoint) kept, so that a
 * resume starts it again: never `running` and unreachable, never thrown away.
 */
export async function adoptRunning(
  deps: SettleDeps & { logger: Logger },
  record: SandboxRecord,
  runtime: Runtime,
): Promise<'running' | 'hibernated'> {
  if (await runtime.reviveAgent(record.id)) {
    settle(deps, record, 'running');
    return 'running';
  }
  const reason: Reason = {
    code: 'restart',
    message: 'its agent did not answer after a server restart; it was hibernated with its disk: resume it',
  };
  deps.logger.warn({ sandboxId: record.id }, reason.message);
  await runtime.hibernate(record.id, 'filesystem');
  settle(deps, record, 'hibernated', reason);
  return 'hibernated';
}

/** Why a restart found a sandbox that should run (or be paused) in the runtime state `now`. */
/**
 * A sandbox that stopped while the server was away (its agent died, the host rebooted) and
 * whose disk is still there: hibernated with it, so that a resume starts it again from its
 * files. Never thrown away while its disk exists.
 */
export function keepDisk(deps: SettleDeps & { logger: Logger }, record: SandboxRecord, reason: Reason): void {
  deps.logger.warn({ sandboxId: record.id, reason: reason.message }, 'sandbox stopped; hibernated with its disk');
  settle(deps, record, 'hibernated', { code: reason.code, message: `${reason.message}; ${DISK_KEPT}` });
}

export function restartReason(now: string, hostRebooted = false): Reason {
  return hostRebooted
    ? { code: 'host_reboot', message: `the host rebooted: the sandbox was ${now} after a server restart` }
    : { code: 'restart', message: `sandbox was ${now} after a server restart` };
}

function lose(store: Store, record: SandboxRecord, reason: Reason, logger: Logger): void {
  logger.warn({ sandboxId: record.id, reason: reason.message }, 'paused sandbox did not survive the restart');
  store.updateSandbox(record.id, { state: 'error', ...reasonPatch(reason) });
}
