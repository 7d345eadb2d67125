import { randomBytes } from 'node:crypto';
import {
  CODE_LIMITS,
  type CodeContext,
  type CodeEvent,
  type CodeLanguage,
  CodeLanguage as CodeLanguageSchema,
  type CreateCodeContextRequest,
  PaddockError,
  type RunCodeRequest,
} from '@paddock/protocol';
import type { AgentConfig } from '../config.js';
import { log } from '../log.js';
import { BashKernel } from './bash-kernel.js';
import { cellDidNotRun, envChanges, envLine, withEnvLine } from './env-line.js';
import type { CellEnd, Kernel } from './kernel.js';
import { planKernel } from './kernel-launch.js';
import { LineKernel } from './line-kernel.js';

/** After an interrupt, how long a cell may take to stop before its kernel is killed. */
const INTERRUPT_GRACE_MS = 3_000;

/**
 * Variables a kernel's interpreter reads only when it starts (Node's extra CAs, the Python
 * path, preloads): setting them in a running kernel does nothing for the kernel itself, so
 * one that has not run a cell yet (a prewarmed one) is restarted with them instead.
 */
const LOADER = ['LD_PRELOAD', 'LD_LIBRARY_PATH'];
const READ_AT_START: Record<CodeLanguage, ReadonlySet<string>> = {
  python: new Set(['PYTHONPATH', 'PYTHONHOME', 'PYTHONSAFEPATH', ...LOADER]),
  javascript: new Set(['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS', 'NODE_PATH', ...LOADER]),
  bash: new Set(),
};

interface ContextState {
  info: Omit<CodeContext, 'running'>;
  kernel: Kernel | undefined;
  /** The variables of runs the kernel has (beyond its template env); a fresh kernel started with them. */
  kernelEnv: Record<string, string>;
  /** Cells the current kernel has been given. */
  cellsRun: number;
  starting: Promise<Kernel> | undefined;
  /** Cells of one context run in order: each waits for the one before. */
  queue: Promise<unknown>;
}

/**
 * The sandbox's code contexts: one kernel each, started on first use and kept running.
 * Each language has a default context whose id is the language's name.
 */
export class CodeContexts {
  private readonly contexts = new Map<string, ContextState>();

  constructor(private readonly config: AgentConfig) {}

  list(): CodeContext[] {
    return [...this.contexts.values()].map((c) => ({ ...c.info, running: c.kernel?.alive ?? false }));
  }

  create(request: CreateCodeContextRequest): CodeContext {
    const language = request.language ?? 'python';
    // Resolving now reports a bad user or cwd at create time, naming the field.
    const plan = planKernel(language, request, this.config);
    const id = randomBytes(8).toString('hex');
    const state = this.add(id, language, { cwd: plan.cwd, user: request.user ?? this.config.defaultUser });
    return { ...state.info, running: false };
  }

  /** Kills the context's kernel: the next run starts a fresh one (state cleared). */
  restart(id: string): CodeContext {
    const state = this.require(id);
    // A cell still running ends with a KernelDied exception.
    this.stop(state);
    return { ...state.info, running: false };
  }

  remove(id: string): void {
    const state = this.require(id);
    this.stop(state);
    this.contexts.delete(id);
  }

  /** Starts the default kernel of `language` now, so that the first run finds it warm. */
  prewarm(language: CodeLanguage): void {
    const state = this.defaultContext(language);
    this.kernelOf(state).catch((err: unknown) => log.warn('kernel prewarm failed', { language, err }));
  }

  killAll(): void {
    for (const state of this.contexts.values()) this.stop(state);
  }

  /** Finds the context of a run; throws the errors a caller can fix before anything streams. */
  contextFor(request: RunCodeRequest): ContextState {
    if (request.contextId === undefined) return this.defaultContext(request.language ?? 'python');
    const state = this.require(request.contextId);
    if (request.language !== undefined && request.language !== state.info.language) {
      throw new PaddockError(
        'INVALID_ARGUMENT',
        `\`language\`: context ${request.contextId} runs ${state.info.language}, not ${request.language}; leave language out or pick another context`,
        { field: 'language' },
      );
    }
    return state;
  }

  /** Runs one cell in its context's turn; `emit` gets its events as they happen. */
  run(
    state: ContextState,
    request: RunCodeRequest,
    emit: (event: CodeEvent) => void,
    signal: AbortSignal,
  ): Promise<CellEnd> {
    const turn = state.queue.then(() => this.runNow(state, request, emit, signal));
    state.queue = turn.catch(() => {});
    return turn;
  }

  private async runNow(
    state: ContextState,
    request: RunCodeRequest,
    emit: (event: CodeEvent) => void,
    signal: AbortSignal,
  ): Promise<CellEnd> {
    if (signal.aborted) return { type: 'end', executionCount: null };
    if (request.code.trim() === '') return { type: 'end', executionCount: null };
    const { kernel, code, env } = await this.prepare(state, request);
    const timeoutMs = request.timeoutMs ?? CODE_LIMITS.timeoutMs.default;
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const interrupt = () => {
      kernel.interrupt();
      // A cell that ignores the interrupt (C code, a blocked syscall) costs the kernel.
      killTimer ??= setTimeout(() => {
        log.warn('kernel ignored an interrupt; killing it', { context: state.info.id });
        kernel.kill();
      }, INTERRUPT_GRACE_MS);
    };
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            interrupt();
          }, timeoutMs)
        : undefined;
    signal.addEventListener('abort', interrupt, { once: true });
    let exception: string | undefined;
    const watch = (event: CodeEvent) => {
      if (event.type === 'exception') exception ??= event.error.name;
      emit(event);
    };
    try {
      state.cellsRun += 1;
      const end = await kernel.execute({ code, timeoutMs, emit: watch });
      return timedOut ? { ...end, timedOut: true } : end;
    } finally {
      // An interrupted cell ran its env line too; one that did not parse ran nothing.
      if (env !== undefined && !cellDidNotRun(exception)) state.kernelEnv = env;
      clearTimeout(timer);
      clearTimeout(killTimer);
      signal.removeEventListener('abort', interrupt);
      if (!kernel.alive && state.kernel === kernel) state.kernel = undefined;
    }
  }

  /**
   * The kernel for a run and the code to give it: a kernel whose environment differs from the
   * run's `env` gets the difference as a line before the code (or, not used yet and missing a
   * variable read at start, a restart with it). `env` is what the kernel has after the cell.
   */
  private async prepare(
    state: ContextState,
    request: RunCodeRequest,
  ): Promise<{ kernel: Kernel; code: string; env: Record<string, string> | undefined }> {
    const env = request.env;
    let kernel = await this.kernelOf(state, env);
    if (env === undefined) return { kernel, code: request.code, env };
    const base = planKernel(state.info.language, state.info, this.config).env;
    let changes = envChanges(state.kernelEnv, env, base);
    if (state.cellsRun === 0 && changes.some(([name]) => READ_AT_START[state.info.language].has(name))) {
      this.stop(state);
      kernel = await this.kernelOf(state, env);
      changes = [];
    }
    return { kernel, code: withEnvLine(request.code, envLine(state.info.language, changes)), env };
  }

  private kernelOf(state: ContextState, env?: Record<string, string>): Promise<Kernel> {
    if (state.kernel?.alive) return Promise.resolve(state.kernel);
    state.starting ??= (async () => {
      const plan = planKernel(state.info.language, state.info, this.config, env);
      const kernel: Kernel =
        state.info.language === 'bash' ? new BashKernel(plan) : new LineKernel(state.info.language, plan);
      try {
        await kernel.start();
      } catch (err) {
        kernel.kill();
        throw err;
      }
      state.kernel = kernel;
      state.kernelEnv = { ...env };
      state.cellsRun = 0;
      return kernel;
    })().finally(() => {
      state.starting = undefined;
    });
    return state.starting;
  }

  private stop(state: ContextState): void {
    state.kernel?.kill();
    state.kernel = undefined;
  }

  private defaultContext(language: CodeLanguage): ContextState {
    CodeLanguageSchema.parse(language);
    return this.contexts.get(language) ?? this.add(language, language, { user: this.config.defaultUser });
  }

  private add(id: string, language: CodeLanguage, where: { cwd?: string; user: string }): ContextState {
    const cwd = where.cwd ?? planKernel(language, { user: where.user }, this.config).cwd;
    const state: ContextState = {
      info: { id, language, cwd, user: where.user },
      kernel: undefined,
      kernelEnv: {},
      cellsRun: 0,
      starting: undefined,
      queue: Promise.resolve(),
    };
    this.contexts.set(id, state);
    return state;
  }

  private require(id: string): ContextState {
    const state = this.contexts.get(id);
    if (state === undefined) {
      throw new PaddockError('NOT_FOUND', `\`contextId\`: no code context "${id}" in this sandbox`, {
        field: 'contextId',
      });
    }
    return state;
  }
}
