import type { Isolation } from '@paddock/protocol';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import { adoptRunning, keepDisk, reconcilePaused, restartReason } from './pause/reconcile-paused.js';
import { reasonPatch } from './reasons.js';
import { LIVE_STATES, type SandboxService } from './sandbox-service.js';
import type { Runtime } from './seams/runtime.js';
import type { Store } from './seams/store.js';

/**
 * Brings the store and the runtimes back in line after a restart (clean or kill -9):
 * running sandboxes are re-adopted with their timers, half-created or half-killed ones are
 * finished off, and runtime leftovers that the store does not know are destroyed.
 */
export async function reconcile(deps: {
  store: Store;
  runtimes: Partial<Record<Isolation, Runtime>>;
  service: SandboxService;
  logger: Logger;
  /** Needed to settle paused and hibernated sandboxes (their retention timers). */
  clock?: Clock;
  /** The host rebooted since the server last ran (see `host-boot.ts`): lost sandboxes say `host_reboot`. */
  hostRebooted?: boolean;
}): Promise<{ adopted: number; lost: number; cleaned: number }> {
  const { store, runtimes, service, logger } = deps;
  let adopted = 0;
  let lost = 0;
  let cleaned = 0;
  const live = store.listSandboxes({ states: ['starting', 'running', 'stopping'] });
  for (const record of live) {
    const runtime = runtimes[record.isolation];
    if (record.state === 'stopping' || record.state === 'starting' || !runtime) {
      // A create or kill that the crash interrupted: nobody was told the sandbox is ready, so finish it off.
      await runtime?.destroy(record.id);
      if (record.pooled || record.state === 'starting') store.deleteSandbox(record.id);
      else store.updateSandbox(record.id, { state: 'killed' });
      cleaned++;
      continue;
    }
    let state = await runtime.state(record.id);
    if (state === 'paused') {
      // Only a snapshot freezes a running sandbox: a crash during its copy leaves it frozen.
      logger.warn({ sandboxId: record.id }, 'thawing a sandbox that a cut-short snapshot left frozen');
      await runtime.resume(record.id);
      state = await runtime.state(record.id);
    }
    if (state === 'running' && deps.clock) {
      await adoptRunning({ store, service, clock: deps.clock, logger }, record, runtime);
      adopted++;
    } else if (state === 'running') {
      service.armTimer(record);
      adopted++;
    } else if (state === 'stopped' && !record.pooled && deps.clock) {
      // Stopped while the server was away (its agent died, the host rebooted): its disk is kept.
      keepDisk({ store, service, clock: deps.clock, logger }, record, restartReason(state, deps.hostRebooted));
      lost++;
    } else {
      logger.warn({ sandboxId: record.id, state }, 'sandbox did not survive the restart');
      await runtime.destroy(record.id);
      if (record.pooled) store.deleteSandbox(record.id);
      else store.updateSandbox(record.id, { state: 'error', ...reasonPatch(restartReason(state, deps.hostRebooted)) });
      lost++;
    }
  }
  if (deps.clock) adopted += await reconcilePaused({ ...deps, clock: deps.clock });
  // Paused and hibernated sandboxes own their disk (and checkpoint) too: not leftovers.
  const known = new Set(store.listSandboxes({ states: LIVE_STATES }).map((r) => r.id));
  for (const runtime of Object.values(runtimes)) {
    for (const id of await runtime.list()) {
      if (known.has(id)) continue;
      const record = store.getSandbox(id);
      if (record && record.isolation !== runtime.isolation) continue;
      logger.info({ sandboxId: id }, 'removing leftover sandbox resources');
      await runtime.destroy(id);
      cleaned++;
    }
  }
  return { adopted, lost, cleaned };
}
