import type { CodeEvent, CodeLanguage } from '@paddock/protocol';

/** The `end` event of a cell. */
export type CellEnd = Extract<CodeEvent, { type: 'end' }>;

/** Events a kernel reports while a cell runs (the agent adds `start` and `error`). */
export type CellEvent = Exclude<CodeEvent, { type: 'start' | 'error' | 'end' }>;

/** One cell to run: its code, its time limit, and where its events go as they happen. */
export interface Cell {
  code: string;
  /** 0: no limit. The kernel uses it where it can stop code itself (JavaScript's vm timeout). */
  timeoutMs: number;
  emit: (event: CellEvent) => void;
}

/**
 * A running interpreter that keeps state between cells. Cells are given one at a time
 * (the context queues them); `interrupt` asks the running cell to stop and keep state,
 * `kill` ends the process (state is lost).
 */
export interface Kernel {
  readonly language: CodeLanguage;
  /** False once the process has exited; the context then starts a new kernel. */
  readonly alive: boolean;
  /** Resolves once the kernel accepts cells; rejects with a PaddockError when it cannot start. */
  start(): Promise<void>;
  execute(cell: Cell): Promise<CellEnd>;
  interrupt(): void;
  kill(): void;
}

/** The exception reported when the kernel process ends while a cell runs. */
export function kernelDiedEvent(language: CodeLanguage, why: string): CellEvent {
  return {
    type: 'exception',
    error: {
      name: 'KernelDied',
      value: `the ${language} kernel died (${why}); its state is lost and a new kernel starts on the next run`,
      traceback: '',
    },
  };
}

/** `exit status 1`, `killed by SIGKILL (out of memory?)`… */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal === 'SIGKILL') return 'killed by SIGKILL (out of memory?)';
  if (signal !== null) return `killed by ${signal}`;
  return `exit status ${code ?? '?'}`;
}
