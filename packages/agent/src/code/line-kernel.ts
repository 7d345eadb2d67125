import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { type CodeLanguage, PaddockError } from '@paddock/protocol';
import type { CommandPlan } from '../command-plan.js';
import { log } from '../log.js';
import { spawnInWorkload } from '../workload-cgroup.js';
import { type Cell, type CellEnd, type CellEvent, describeExit, type Kernel, kernelDiedEvent } from './kernel.js';

/** Longest start we wait for: ipykernel with pandas and matplotlib takes ~2 s here. */
const START_TIMEOUT_MS = 60_000;
const STDERR_TAIL_CHARS = 2_000;

interface Running {
  cell: Cell;
  finish: (end: CellEnd) => void;
}

/**
 * A kernel process that speaks JSON lines: requests on its stdin, events on fd 3
 * (python_relay.py, js_kernel.cjs). Its own stdout/stderr (a subprocess that writes to
 * the inherited fds) are forwarded to the running cell as output.
 */
export class LineKernel implements Kernel {
  private child: ChildProcess | undefined;
  private running: Running | undefined;
  private exited = false;
  /** Processes the kernel started in their own sessions (ipykernel), killed with it. */
  private readonly extraPids = new Set<number>();
  private stderrTail = '';
  private readyWaiter: { resolve: () => void; reject: (err: Error) => void } | undefined;

  constructor(
    readonly language: CodeLanguage,
    private readonly plan: CommandPlan,
  ) {}

  get alive(): boolean {
    return this.child !== undefined && !this.exited;
  }

  start(): Promise<void> {
    const { plan } = this;
    const child = spawnInWorkload(() =>
      spawn(plan.file, plan.args, {
        cwd: plan.cwd,
        env: plan.env,
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
        ...(plan.uid === undefined ? {} : { uid: plan.uid }),
        ...(plan.gid === undefined ? {} : { gid: plan.gid }),
      }),
    );
    this.child = child;
    child.on('error', (err) => this.onExit(null, null, err));
    child.once('exit', (code, signal) => this.onExit(code, signal));
    child.stdin?.on('error', () => {});
    readLines(child.stdio[3] as Readable, (line) => this.onLine(line));
    forwardRaw(child.stdout, (text) => this.running?.cell.emit({ type: 'stdout', text }));
    forwardRaw(child.stderr, (text) => {
      if (this.running) this.running.cell.emit({ type: 'stderr', text });
      else this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL_CHARS);
    });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill();
        reject(new PaddockError('TIMEOUT', `the ${this.language} kernel did not start within ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      this.readyWaiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
    });
  }

  execute(cell: Cell): Promise<CellEnd> {
    if (!this.alive) return Promise.resolve(this.diedDuring(cell, 'not running'));
    return new Promise((resolve) => {
      this.running = { cell, finish: resolve };
      this.send({ type: 'execute', code: cell.code, timeoutMs: cell.timeoutMs });
    });
  }

  interrupt(): void {
    this.send({ type: 'interrupt' });
  }

  kill(): void {
    const pid = this.child?.pid;
    if (pid !== undefined && !this.exited) signalGroup(pid, 'SIGKILL');
    for (const extra of this.extraPids) signalGroup(extra, 'SIGKILL');
  }

  private send(request: unknown): void {
    this.child?.stdin?.write(`${JSON.stringify(request)}\n`);
  }

  private onLine(line: string): void {
    let event: { type?: unknown } & Record<string, unknown>;
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      return;
    }
    switch (event.type) {
      case 'ready':
        this.readyWaiter?.resolve();
        return;
      case 'failed':
        this.readyWaiter?.reject(this.cannotStart(String(event.message)));
        return;
      case 'pid':
        if (typeof event.pid === 'number') this.extraPids.add(event.pid);
        return;
      case 'log':
        log.warn('kernel', { language: this.language, message: event.message });
        return;
      case 'end': {
        const running = this.running;
        this.running = undefined;
        running?.finish(event as unknown as CellEnd);
        return;
      }
      default:
        this.running?.cell.emit(event as unknown as CellEvent);
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, err?: Error): void {
    if (this.exited) return;
    this.exited = true;
    for (const extra of this.extraPids) signalGroup(extra, 'SIGKILL');
    const why = err ? err.message : describeExit(code, signal);
    this.readyWaiter?.reject(this.cannotStart(`${why}; ${this.stderrTail.trim()}`));
    const running = this.running;
    this.running = undefined;
    if (running) running.finish(this.diedDuring(running.cell, why));
  }

  private diedDuring(cell: Cell, why: string): CellEnd {
    cell.emit(kernelDiedEvent(this.language, why));
    return { type: 'end', executionCount: null };
  }

  private cannotStart(why: string): PaddockError {
    const needs =
      this.language === 'python'
        ? 'python3 with ipykernel and jupyter_client (the `code-interpreter` template has them)'
        : 'the kernel program';
    return new PaddockError(
      'INVALID_ARGUMENT',
      `\`language\`: cannot start the ${this.language} kernel in this sandbox (${why.slice(0, STDERR_TAIL_CHARS)}); its template needs ${needs}`,
      { field: 'language' },
    );
  }
}

function readLines(stream: Readable, onLine: (line: string) => void): void {
  const decoder = new StringDecoder('utf8');
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    // Search only the new text: a result line (a PNG) can be megabytes long.
    const from = buffered.length;
    buffered += decoder.write(chunk);
    let newline = buffered.indexOf('\n', from);
    while (newline >= 0) {
      onLine(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
    }
  });
  stream.on('error', () => {});
}

function forwardRaw(stream: Readable | null, onText: (text: string) => void): void {
  if (stream === null) return;
  const decoder = new StringDecoder('utf8');
  stream.on('data', (chunk: Buffer) => onText(decoder.write(chunk)));
  stream.on('error', () => {});
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: already gone.
  }
}
