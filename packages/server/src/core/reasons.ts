import type { ErrorBody, ReasonCode } from '@paddock/protocol';
import type { SandboxRecord } from './seams/store.js';

/** Why a sandbox is in its state: a stable code for programs and a message for people. */
export interface Reason {
  code: ReasonCode;
  message: string;
}

/** The store patch that records `reason`: text and code always change together. */
export function reasonPatch(reason: Reason): Pick<SandboxRecord, 'reason' | 'reasonCode'> {
  return { reason: reason.message, reasonCode: reason.code };
}

/** The patch of a sandbox that runs again: whatever stopped it no longer applies. */
export const CLEARED_REASON: Pick<SandboxRecord, 'reason' | 'reasonCode'> = { reason: null, reasonCode: null };

/** What the memory cgroup says of an out-of-memory death. */
export interface OomFacts {
  /** OOM kills the cgroup counted during the call. */
  kills: number;
  limitMiB: number;
}

/** What a lost sandbox's reason adds: its disk is kept, and how to get it back. */
export const DISK_KEPT = 'its disk is kept: resume it to start it again (its processes restart)';

/**
 * A sandbox found dead under a call (its agent's connection broke and the runtime no longer
 * runs it): out of memory when its memory cgroup counted an OOM kill during the call, with
 * the numbers.
 */
export function lostReason(runtimeState: string, oom?: OomFacts): Reason {
  return oom
    ? {
        code: 'oom',
        message: `out of memory: the sandbox used all of its ${oom.limitMiB} MiB and the kernel killed it (${oom.kills} OOM kill(s) in its memory cgroup); raise memoryMiB. ${DISK_KEPT}`,
      }
    : { code: 'agent_lost', message: `the sandbox stopped unexpectedly (${runtimeState}); ${DISK_KEPT}` };
}

/** A stream's last event when the sandbox died under it: its new state and why, as `getInfo` then says. */
export function lostError(sandboxId: string, reason: Reason): ErrorBody {
  return {
    code: 'SANDBOX_NOT_RUNNING',
    message: reason.message,
    details: { sandboxId, state: 'hibernated', reasonCode: reason.code },
  };
}
