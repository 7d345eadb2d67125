import { spawn } from 'node:child_process';

/** How long a process group gets to exit after SIGTERM before it is killed. */
const KILL_GRACE_MS = 3_000;

export interface RunProcessOptions {
  file: string;
  args: readonly string[];
  /** The complete environment of the child; nothing of the server's own leaks in. */
  env?: Readonly<Record<string, string>>;
  /** Bytes written to the child's stdin (then closed); stdin is empty otherwise. */
  stdin?: Uint8Array;
  signal?: AbortSignal | undefined;
  /** Called for each line of stdout and stderr (interleaved as they arrive). */
  onLine?: (line: string) => void;
  /** Open fds handed to the child as its fds 3, 4, … */
  extraFds?: readonly number[];
  /** Lines of output kept for error messages. */
  tailLines?: number;
}

export interface ProcessResult {
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  /** The last `tailLines` lines of stdout and stderr together. */
  tail: string[];
}

/**
 * Runs a program (argv, no shell) in its own process group and waits for it. An abort kills
 * the whole group (mmdebstrap forks apt and dpkg; a killed parent alone would leave them
 * running) and rejects with the signal's reason once the group's output has closed.
 */
export function runProcess(options: RunProcessOptions): Promise<ProcessResult> {
  const { signal, tailLines = 30 } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const child = spawn(options.file, options.args, {
      detached: true,
      env: options.env ?? { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe', ...(options.extraFds ?? [])],
    });
    const tail: string[] = [];
    const onLine = (line: string): void => {
      tail.push(line);
      if (tail.length > tailLines) tail.shift();
      options.onLine?.(line);
    };
    const flushOut = splitLines(child.stdout, onLine);
    const flushErr = splitLines(child.stderr, onLine);
    if (options.stdin !== undefined && child.stdin !== null) {
      // A child that exits without reading its stdin makes the write fail with EPIPE; its exit
      // status tells the real story.
      child.stdin.on('error', () => {});
      child.stdin.end(options.stdin);
    }

    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // The group is already gone.
      }
    };
    const onAbort = (): void => {
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    child.once('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.once('close', (exitCode, exitSignal) => {
      signal?.removeEventListener('abort', onAbort);
      if (killTimer !== undefined) clearTimeout(killTimer);
      flushOut();
      flushErr();
      if (signal?.aborted) reject(signal.reason);
      else resolve({ exitCode, exitSignal, tail });
    });
  });
}

/** Longest line passed on; apt progress and binary garbage can make very long "lines". */
const MAX_LINE_CHARS = 4_000;

function splitLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): () => void {
  let pending = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    pending += chunk;
    // apt redraws progress with bare carriage returns; treat them as line ends.
    const parts = pending.split(/\r\n|\n|\r/);
    pending = parts.pop() ?? '';
    for (const part of parts) onLine(part.slice(0, MAX_LINE_CHARS));
    if (pending.length > MAX_LINE_CHARS) {
      onLine(pending.slice(0, MAX_LINE_CHARS));
      pending = '';
    }
  });
  return () => {
    if (pending !== '') onLine(pending);
    pending = '';
  };
}
