import type { ChildProcess } from 'node:child_process';

/** Resolves when a spawned runtime command exits 0; rejects with its exit status otherwise. */
export function exitOf(child: ChildProcess, what: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('error', (error) => reject(signal?.aborted ? signal.reason : error));
    child.once('exit', (code, killed) => {
      if (signal?.aborted) reject(signal.reason);
      else if (code === 0) resolve();
      else reject(new Error(`${what} failed (${code === null ? `signal ${killed}` : `exit ${code}`})`));
    });
  });
}
