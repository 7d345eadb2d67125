import { lstatSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { healthStatus, quiesceStatus } from '../agent-client/lifecycle-client.js';

export interface WaitHealthyOptions {
  socketPath: string;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Resolves to a reason when the sandbox died, to fail fast instead of waiting out the timeout. */
  deathReason: () => Promise<string | undefined>;
}

/**
 * Polls `GET /health` until it answers 200, with a short backoff (1, 2, 4 … 25 ms): the agent
 * needs ~50–300 ms to start, and a socket poll costs ~0.1 ms.
 */
export async function waitHealthy(options: WaitHealthyOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let last = 'no answer yet';
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      const status = await healthStatus(options.socketPath, Math.max(1, Math.min(1000, deadline - Date.now())));
      if (status === 200) return;
      last = `GET /health answered ${status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    const died = await options.deathReason();
    if (died !== undefined) throw new Error(`sandbox died before its agent became healthy: ${died}`);
    if (Date.now() >= deadline) {
      throw new Error(
        `agent not healthy after ${options.timeoutMs} ms (${last}); raise startTimeoutMs if the host is slow`,
      );
    }
    await delay(Math.min(2 ** attempt, 25), undefined, options.signal ? { signal: options.signal } : undefined);
  }
}

/**
 * Asks the agent to stop listening and drop its connections (`POST /quiesce`), then waits
 * until its socket file is gone, which the agent does once every connection is closed.
 */
export async function quiesceAgent(socketPath: string, signal?: AbortSignal): Promise<void> {
  const status = await quiesceStatus(socketPath, 5_000);
  if (status !== 200) throw new Error(`the agent refused to quiesce (HTTP ${status})`);
  for (let attempt = 0; entryExists(socketPath); attempt++) {
    if (attempt > 400) throw new Error('the agent did not close its socket within 2 s of quiescing');
    await delay(5, undefined, signal ? { signal } : undefined);
  }
}

/** Whether `path` names anything, a planted link included (lstat: nothing is followed). */
function entryExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
