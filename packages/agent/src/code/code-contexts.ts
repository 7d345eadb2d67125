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
import type { CellEnd, Kernel } from './kernel.js';
import { planKernel } from './kernel-launch.js';
import { LineKernel } from './line-kernel.js';

/** After an interrupt, how long a cell may take to stop before its kernel is killed. */
const INTERRUPT_GRACE_MS = 3_000;

interface ContextState {
  info: Omit<CodeContext, 'running'>;
  kernel: Kernel | undefined;
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
    const kernel = await this.kernelOf(state);
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
    try {
      const end = await kernel.execute({ code: request.code, timeoutMs, emit });
      return timedOut ? { ...end, timedOut: true } : end;
    } finally {
      clearTimeout(timer);
      clearTimeout(killTimer);
      signal.removeEventListener('abort', interrupt);
      if (!kernel.alive && state.kernel === kernel) state.kernel = undefined;
    }
  }

  private kernelOf(state: ContextState): Promise<Kernel> {
    if (state.kernel?.alive) return Promise.resolve(state.kernel);
    state.starting ??= (async () => {
      const plan = planKernel(state.info.language, state.info, this.config);
      const kernel: Kernel =
        state.info.language === 'bash' ? new BashKernel(plan) : new LineKernel(state.info.language, plan);
      try {
        await kernel.start();
      } catch (err) {
        kernel.kill();
        throw err;
      }
      state.kernel = kernel;
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
