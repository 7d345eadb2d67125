import type { Isolation } from '@paddock/protocol';
import type { Runtime } from '../runtime/runtime.js';
import type { SandboxRecord, Store } from '../store/store.js';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import { PAUSED_STATES, type SandboxService } from './sandbox-service.js';

/**
 * After a restart, settles sandboxes that were paused, hibernated or between those states
 * when the server stopped (kill -9 included), so that each is running, paused or
 * hibernated again — never lost while its disk or checkpoint exists:
 * - pausing/paused: whatever the runtime says (frozen → paused, running → running);
 * - hibernating: a running sandbox stays running (the checkpoint never finished); a
 *   stopped one is hibernated, and resumes from the complete or temp checkpoint, or from its
 *   disk alone when there is none;
 * - resuming: running if the runtime runs it, else hibernated again (the resume is retried).
 */
export async function reconcileStateful(deps: {
  store: Store;
  runtimes: Partial<Record<Isolation, Runtime>>;
  service: SandboxService;
  clock: Clock;
  logger: Logger;
}): Promise<number> {
  const { store, runtimes, service, clock, logger } = deps;
  let settled = 0;
  for (const record of store.listSandboxes({ states: PAUSED_STATES })) {
    const runtime = runtimes[record.isolation];
    if (!runtime) continue;
    const now = await runtime.state(record.id);
    const set = (state: 'running' | 'paused' | 'hibernated') => {
      const expiresAtMs = clock.now() + (state === 'running' ? record.timeoutMs : record.retentionMs);
      const kept = record.state === state && record.expiresAtMs !== null;
      const updated: SandboxRecord = { ...record, state, expiresAtMs: kept ? record.expiresAtMs : expiresAtMs };
      store.updateSandbox(record.id, { state, expiresAtMs: updated.expiresAtMs });
      service.armTimer(updated);
      settled++;
    };
    if (record.state === 'pausing' || record.state === 'paused') {
      if (now === 'paused') set('paused');
      else if (now === 'running') set('running');
      else lose(store, record, `sandbox was ${now} after a server restart`, logger);
    } else if (record.state === 'hibernating' || record.state === 'hibernated') {
      if (now === 'running' || now === 'paused') {
        if (record.state === 'hibernated') logger.warn({ sandboxId: record.id }, 'a hibernated sandbox was running');
        if (now === 'paused') await runtime.resume(record.id);
        set('running');
      } else {
        set('hibernated');
      }
    } else if (record.state === 'resuming') {
      set(now === 'running' ? 'running' : 'hibernated');
    }
  }
  return settled;
}

function lose(store: Store, record: SandboxRecord, reason: string, logger: Logger): void {
  logger.warn({ sandboxId: record.id, reason }, 'paused sandbox did not survive the restart');
  store.updateSandbox(record.id, { state: 'error', reason });
}
