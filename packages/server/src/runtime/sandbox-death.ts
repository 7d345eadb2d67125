import { readFile } from 'node:fs/promises';
import { waitHealthy } from './agent-health.js';
import { logTail } from './log-tail.js';
import type { SandboxLayout } from './sandbox-layout.js';

/** Whether the container init (crun) or sandbox process (runsc) is alive and not a zombie. */
export async function initAlive(layout: SandboxLayout): Promise<boolean> {
  let pid: number;
  try {
    pid = Number((await readFile(layout.pidFile, 'utf8')).trim());
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Waits until the sandbox's agent answers `GET /health`, failing fast (with its log's tail)
 * when the sandbox dies first, or after `timeoutMs`.
 */
export function waitForAgent(layout: SandboxLayout, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  return waitHealthy({
    socketPath: layout.agentSocket,
    timeoutMs,
    signal,
    deathReason: async () => ((await initAlive(layout)) ? undefined : await deathNote(layout)),
  });
}

async function deathNote(layout: SandboxLayout): Promise<string> {
  const tail = await logTail(layout.log);
  return tail ? `log tail:\n${tail}` : 'the log is empty';
}

/** `error` with the sandbox log's tail appended, when there is one. */
export function withLog(error: unknown, tail: string): unknown {
  return tail ? withNote(error, `log tail:\n${tail}`) : error;
}

/** A new error with a note appended: thrown values may be frozen (DOMException's message is a getter). */
export function withNote(error: unknown, note: string): Error {
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`${message}\n${note}`, { cause: error });
}
