import { execFile } from 'node:child_process';

/** A host binary exited non-zero (or could not start); carries what it printed. */
export class HostCommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'HostCommandError';
  }
}

export interface HostCommandOptions {
  signal?: AbortSignal | undefined;
  /** Kills the command (SIGKILL) after this long. */
  timeoutMs?: number;
}

/**
 * Runs a host binary with an argv array (never a shell) and returns its stdout. Only for
 * commands that exit on their own: a child that leaves a daemon holding the pipes (runsc,
 * crun run --detach) must be started with `spawn` and file stdio instead.
 */
export function hostCommand(file: string, args: readonly string[], options: HostCommandOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
        killSignal: 'SIGKILL',
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve(stdout);
          return;
        }
        if (options.signal?.aborted) {
          reject(options.signal.reason);
          return;
        }
        const code = typeof error.code === 'number' ? error.code : null;
        const detail = stderr.trim() || error.message;
        reject(new HostCommandError(`${file} ${args.join(' ')}: ${detail}`, code, stderr));
      },
    );
  });
}
