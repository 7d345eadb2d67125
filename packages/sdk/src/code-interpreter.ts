import {
  type Chart,
  CodeContext,
  CodeContextList,
  CodeEvent,
  type CodeLanguage,
  type CodeResult,
  type ExecutionError,
  parseNdjson,
  type RunCodeRequest,
} from '@paddock/protocol';
import { type Connection, checked } from './connection.js';
import { errorFromBody, SandboxError } from './errors.js';

/** The representations a {@link Result} can carry, in the order `formats` lists them. */
const FORMATS = [
  'text',
  'html',
  'markdown',
  'svg',
  'png',
  'jpeg',
  'pdf',
  'latex',
  'json',
  'javascript',
  'data',
  'chart',
] as const;
export type ResultFormat = (typeof FORMATS)[number];

/**
 * One displayed object: every representation it offers (`png`/`jpeg`/`pdf` base64), a
 * DataFrame's rows as `data`, a matplotlib figure's values as `chart`.
 */
export type Result = CodeResult & {
  /** The representations present, e.g. `['text', 'html', 'data']`. */
  formats: ResultFormat[];
};

/** A chart extracted from a matplotlib figure. */
/** A code context: one kernel with its own variables and working directory. */
export type { Chart, CodeContext, CodeLanguage, ExecutionError };

/** What a cell produced: results, output, the exception if any, its execution count. */
export class Execution {
  readonly results: Result[] = [];
  readonly logs: { stdout: string[]; stderr: string[] } = { stdout: [], stderr: [] };
  error: ExecutionError | undefined;
  /** The kernel's counter for this cell; null for an empty cell or a kernel that died. */
  executionCount: number | null = null;
  /** True when `timeoutMs` ran out and the cell was interrupted. */
  timedOut = false;
  /** True when the output passed the cap and the rest was dropped. */
  truncated = false;

  /** The text of the main result (the value of the cell's last expression), if any. */
  get text(): string | undefined {
    return this.results.find((r) => r.isMainResult)?.text;
  }
}

/** A streamed event of a run: output, results and the exception as they happen. */
export type ExecutionEvent =
  | { type: 'stdout' | 'stderr'; text: string }
  | { type: 'result'; result: Result }
  | { type: 'exception'; error: ExecutionError }
  | {
      type: 'end';
      executionCount: number | null;
      timedOut?: boolean | undefined;
      truncated?: boolean | undefined;
    };

/** Options of {@link CodeInterpreter.run} (`sandbox.runCode`). */
export interface RunCodeOptions {
  /** `python` (default), `javascript` or `bash`; runs in that language's default context. */
  language?: CodeLanguage;
  /** A context from `codeContexts.create` (its id or the context itself). */
  context?: string | CodeContext;
  /** Interrupt the cell after this long (KeyboardInterrupt); the context keeps its state. Default 300 000; 0 = none. */
  timeoutMs?: number;
  /**
   * Environment variables for this cell only, over the sandbox's `env` (which every kernel
   * has); the next cell without them sees the sandbox's values again.
   */
  env?: Record<string, string>;
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
  onResult?: (result: Result) => void;
  onError?: (error: ExecutionError) => void;
  /** Cancels the run (the cell is interrupted). */
  signal?: AbortSignal;
  /** How long to wait for the server to accept the run (not the cell's lifetime). */
  requestTimeoutMs?: number;
}

/** Options of {@link CodeContexts.create}. */
export interface CreateCodeContextOptions {
  language?: CodeLanguage;
  /** Absolute working directory of the kernel. */
  cwd?: string;
  /** User the kernel runs as; default `user`. */
  user?: string;
  signal?: AbortSignal;
}

function withFormats(result: CodeResult): Result {
  return { ...result, formats: FORMATS.filter((f) => result[f] !== undefined) };
}

/**
 * Runs code in stateful kernels inside a sandbox. Reach it as `sandbox.runCode(…)`,
 * `sandbox.streamCode(…)` and `sandbox.codeContexts`.
 */
export class CodeInterpreter {
  constructor(
    private readonly conn: Connection,
    private readonly sandboxId: string,
  ) {}

  /**
   * Runs a cell and resolves with its {@link Execution}; callbacks see output as it comes.
   * A cell's exception is `execution.error`, not a rejection.
   *
   * @example
   * ```ts
   * await sbx.runCode('x = 41')
   * const ex = await sbx.runCode('x + 1') // ex.text === '42'
   * ```
   */
  async run(code: string, opts: RunCodeOptions = {}): Promise<Execution> {
    const execution = new Execution();
    for await (const event of this.stream(code, opts)) {
      switch (event.type) {
        case 'stdout':
          execution.logs.stdout.push(event.text);
          opts.onStdout?.(event.text);
          break;
        case 'stderr':
          execution.logs.stderr.push(event.text);
          opts.onStderr?.(event.text);
          break;
        case 'result':
          execution.results.push(event.result);
          opts.onResult?.(event.result);
          break;
        case 'exception':
          execution.error = event.error;
          opts.onError?.(event.error);
          break;
        case 'end':
          execution.executionCount = event.executionCount;
          execution.timedOut = event.timedOut === true;
          execution.truncated = event.truncated === true;
          break;
      }
    }
    return execution;
  }

  /**
   * Runs a cell and yields its events as they happen, ending with `end`.
   *
   * @example
   * ```ts
   * for await (const ev of sbx.streamCode('for i in range(3): print(i)')) if (ev.type === 'stdout') process.stdout.write(ev.text)
   * ```
   */
  async *stream(code: string, opts: RunCodeOptions = {}): AsyncGenerator<ExecutionEvent> {
    const req: RunCodeRequest = { code };
    if (opts.language !== undefined) req.language = opts.language;
    if (opts.context !== undefined) req.contextId = typeof opts.context === 'string' ? opts.context : opts.context.id;
    if (opts.timeoutMs !== undefined) req.timeoutMs = opts.timeoutMs;
    if (opts.env !== undefined) req.env = opts.env;
    const res = await this.conn.request('POST', `/v1/sandboxes/${this.sandboxId}/code`, {
      json: req,
      signal: opts.signal,
      requestTimeoutMs: opts.requestTimeoutMs,
    });
    let ended = false;
    for await (const raw of parseNdjson(res)) {
      const parsed = CodeEvent.safeParse(raw);
      if (!parsed.success) throw new SandboxError('INTERNAL', `unexpected code event: ${JSON.stringify(raw)}`);
      const event = parsed.data;
      if (event.type === 'error') throw errorFromBody(event.error as never);
      if (event.type === 'start') continue;
      if (event.type === 'result') {
        yield { type: 'result', result: withFormats(event.result) };
        continue;
      }
      if (event.type === 'end') ended = true;
      yield event;
    }
    if (!ended) throw new SandboxError('UNAVAILABLE', 'the code stream ended before the cell did');
  }
}

/** Creates, lists, restarts and removes code contexts. Reach it as `sandbox.codeContexts`. */
export class CodeContexts {
  constructor(
    private readonly conn: Connection,
    private readonly sandboxId: string,
  ) {}

  /**
   * A new context with its own kernel (started on first use).
   *
   * @example
   * ```ts
   * const ctx = await sbx.codeContexts.create({ language: 'python', cwd: '/home/user/proj' })
   * await sbx.runCode('import os; os.getcwd()', { context: ctx })
   * ```
   */
  async create(opts: CreateCodeContextOptions = {}): Promise<CodeContext> {
    const json: Record<string, string> = {};
    if (opts.language !== undefined) json.language = opts.language;
    if (opts.cwd !== undefined) json.cwd = opts.cwd;
    if (opts.user !== undefined) json.user = opts.user;
    const body = await this.conn.json('POST', `${this.base()}`, { json, signal: opts.signal });
    return checked((v) => CodeContext.safeParse(v), body);
  }

  /** Every context of the sandbox, default ones included (their ids are language names). */
  async list(opts: { signal?: AbortSignal } = {}): Promise<CodeContext[]> {
    const body = await this.conn.json('GET', this.base(), { signal: opts.signal });
    return checked((v) => CodeContextList.safeParse(v), body).contexts;
  }

  /** Kills the context's kernel; the next run starts a fresh one (variables cleared). */
  async restart(context: string | CodeContext, opts: { signal?: AbortSignal } = {}): Promise<CodeContext> {
    const body = await this.conn.json('POST', `${this.base()}/${idOf(context)}/restart`, { signal: opts.signal });
    return checked((v) => CodeContext.safeParse(v), body);
  }

  /** Kills the context's kernel and forgets the context. */
  async remove(context: string | CodeContext, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.conn.json('DELETE', `${this.base()}/${idOf(context)}`, { signal: opts.signal });
  }

  private base(): string {
    return `/v1/sandboxes/${this.sandboxId}/code/contexts`;
  }
}

function idOf(context: string | CodeContext): string {
  return encodeURIComponent(typeof context === 'string' ? context : context.id);
}
