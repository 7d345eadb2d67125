import type { IncomingMessage } from 'node:http';
import {
  type CreatePtyRequest,
  PtyCreated,
  PtyEvent,
  type PtyInfo,
  PtyList,
  type PtySize,
  parseNdjson,
} from '@paddock/protocol';
import { type Connection, checked } from './connection.js';
import { errorFromBody, NotFoundError, SandboxError, UnavailableError } from './errors.js';

/** Options every terminal call takes. */
export interface PtyCallOptions {
  /** Cancels the call; for `create` and `connect` it also detaches later (the program keeps running). */
  signal?: AbortSignal;
  /** How long to wait for the server to answer. */
  requestTimeoutMs?: number;
}

/** Options of {@link Pty.connect}. */
export interface PtyConnectOptions extends PtyCallOptions {
  /** Called with each chunk of terminal output: raw bytes, escape sequences included. */
  onData: (data: Uint8Array) => void;
  /**
   * Output offset to resume from (see {@link PtyHandle.outputOffset}). Default: the oldest
   * output the sandbox still keeps (up to 256 KiB), i.e. the recent screen.
   */
  fromOffset?: number;
}

/** Options of {@link Pty.create}. */
export interface PtyCreateOptions extends PtyConnectOptions {
  /** Terminal width in character cells (1–1000). */
  cols: number;
  /** Terminal height in character cells (1–1000). */
  rows: number;
  /** A shell command line to run instead of the user's login shell. */
  cmd?: string;
  /** Working directory (absolute); default the template's workdir or the user's home. */
  cwd?: string;
  /** Extra environment, over the sandbox's `env`. `TERM` is `xterm-256color` unless set here. */
  env?: Record<string, string>;
  /** User to run as (name or uid); default `user`. */
  user?: string;
}

/**
 * A terminal session you are attached to. The program runs in the sandbox whether or not
 * you are attached: `disconnect()` only stops following, and `Pty.connect` attaches again.
 */
export class PtyHandle {
  private offset: number;
  private readonly exited: Promise<number>;
  private readonly stop = new AbortController();
  /** Input calls run one at a time: concurrent requests could overtake each other. */
  private inputQueue: Promise<unknown> = Promise.resolve();

  /** @internal */
  constructor(
    private readonly terminals: Pty,
    readonly id: string,
    readonly pid: number,
    output: IncomingMessage,
    opts: PtyConnectOptions,
  ) {
    this.offset = opts.fromOffset ?? 0;
    this.exited = this.follow(output, opts.onData);
    // Awaited through wait(); a caller that never waits must not crash on a broken stream.
    this.exited.catch(() => {});
  }

  /** Output offset after the last chunk received: pass it as `fromOffset` to resume without repeats. */
  get outputOffset(): number {
    return this.offset;
  }

  /**
   * Types into the terminal: text (sent as UTF-8, e.g. `'ls\r'`) or raw bytes. Calls are
   * delivered in the order they were made, even when not awaited one by one.
   */
  sendInput(data: string | Uint8Array, opts: PtyCallOptions = {}): Promise<void> {
    const sent = this.inputQueue.then(() => this.terminals.sendInput(this.id, data, opts));
    this.inputQueue = sent.catch(() => {});
    return sent;
  }

  /** Changes the terminal size; the program gets SIGWINCH. */
  async resize(size: PtySize, opts: PtyCallOptions = {}): Promise<void> {
    await this.terminals.resize(this.id, size, opts);
  }

  /** Kills the program and everything it started in the terminal (background jobs too). */
  async kill(opts: PtyCallOptions = {}): Promise<void> {
    await this.terminals.kill(this.id, opts);
  }

  /**
   * Resolves with the program's exit code once it exits (128 + n when signal n ended it).
   * Rejects when the output stream breaks first (e.g. the server restarted): the session
   * still runs, and `Pty.connect(id, { fromOffset: handle.outputOffset })` resumes.
   */
  wait(): Promise<number> {
    return this.exited;
  }

  /** Stops following the output; the program keeps running. */
  disconnect(): void {
    this.stop.abort(new Error('disconnected'));
  }

  private async follow(output: IncomingMessage, onData: (data: Uint8Array) => void): Promise<number> {
    const onStop = () => output.destroy();
    this.stop.signal.addEventListener('abort', onStop, { once: true });
    try {
      for await (const raw of parseNdjson(output)) {
        const event = checked((v) => PtyEvent.safeParse(v), raw);
        if (event.type === 'error') throw errorFromBody(event.error as never);
        if (event.type === 'exit') return event.exitCode;
        if (event.type === 'start') {
          this.offset = event.offset;
          continue;
        }
        const bytes = Buffer.from(event.data, 'base64');
        this.offset = event.offset + bytes.length;
        onData(bytes);
      }
    } catch (err) {
      if (this.stop.signal.aborted) throw this.stop.signal.reason;
      if (err instanceof SandboxError) throw err;
      throw this.broken(err);
    } finally {
      this.stop.signal.removeEventListener('abort', onStop);
    }
    if (this.stop.signal.aborted) throw this.stop.signal.reason;
    throw this.broken(undefined);
  }

  private broken(cause: unknown): UnavailableError {
    return new UnavailableError(
      'UNAVAILABLE',
      `the output stream of PTY session ${this.id} ended before the program exited; it still runs: ` +
        `reattach with sandbox.pty.connect('${this.id}', { fromOffset: ${this.offset}, onData })`,
      { cause },
    );
  }
}

/**
 * Interactive terminals in a sandbox (`sandbox.pty`): a real pseudo-terminal, so job
 * control, colors, `vim` and `top` work, and resizes reach the program.
 *
 * @example
 * ```ts
 * const term = await sbx.pty.create({ cols: 120, rows: 40, onData: (d) => process.stdout.write(d) })
 * await term.sendInput('ls --color\r')
 * await term.resize({ cols: 80, rows: 24 })
 * await term.sendInput('exit 3\r')
 * await term.wait() // 3
 * ```
 */
export class Pty {
  constructor(
    private readonly conn: Connection,
    private readonly sandboxId: string,
  ) {}

  /** Starts a terminal (the user's login shell unless `cmd` is given) and follows its output. */
  async create(opts: PtyCreateOptions): Promise<PtyHandle> {
    const body: CreatePtyRequest = { cols: opts.cols, rows: opts.rows };
    if (opts.cmd !== undefined) body.cmd = opts.cmd;
    if (opts.cwd !== undefined) body.cwd = opts.cwd;
    if (opts.env !== undefined) body.env = opts.env;
    if (opts.user !== undefined) body.user = opts.user;
    const created = checked(
      (v) => PtyCreated.safeParse(v),
      await this.conn.json('POST', this.path(), {
        json: body,
        signal: opts.signal,
        requestTimeoutMs: opts.requestTimeoutMs,
      }),
    );
    // From offset 0: nothing the program printed before we attached is missed.
    const output = await this.openOutput(created.id, { ...opts, fromOffset: opts.fromOffset ?? 0 });
    return new PtyHandle(this, created.id, created.pid, output, { ...opts, fromOffset: opts.fromOffset ?? 0 });
  }

  /**
   * Attaches to a running (or recently exited) session: the recent screen output comes
   * first, then live output. Throws {@link NotFoundError} for an unknown id.
   */
  async connect(id: string, opts: PtyConnectOptions): Promise<PtyHandle> {
    const info = (await this.list(opts)).find((s) => s.id === id);
    if (info === undefined) {
      throw new NotFoundError(
        'NOT_FOUND',
        `no PTY session "${id}" in sandbox ${this.sandboxId}; see sandbox.pty.list()`,
      );
    }
    const output = await this.openOutput(id, opts);
    return new PtyHandle(this, id, info.pid, output, opts);
  }

  /** The sandbox's terminal sessions, running and recently exited (with `exitCode`). */
  async list(opts: PtyCallOptions = {}): Promise<PtyInfo[]> {
    return checked((v) => PtyList.safeParse(v), await this.conn.json('GET', this.path(), opts)).sessions;
  }

  /** Types into session `id`; see {@link PtyHandle.sendInput}. */
  async sendInput(id: string, data: string | Uint8Array, opts: PtyCallOptions = {}): Promise<void> {
    const res = await this.conn.request('POST', this.path(id, 'input'), {
      body: typeof data === 'string' ? Buffer.from(data) : data,
      signal: opts.signal,
      requestTimeoutMs: opts.requestTimeoutMs,
    });
    res.resume();
  }

  /** Resizes session `id`; see {@link PtyHandle.resize}. */
  async resize(id: string, size: PtySize, opts: PtyCallOptions = {}): Promise<void> {
    await this.conn.json('POST', this.path(id, 'resize'), { json: { cols: size.cols, rows: size.rows }, ...opts });
  }

  /** Kills session `id`; see {@link PtyHandle.kill}. */
  async kill(id: string, opts: PtyCallOptions = {}): Promise<void> {
    await this.conn.json('POST', this.path(id, 'kill'), opts);
  }

  private openOutput(id: string, opts: PtyConnectOptions): Promise<IncomingMessage> {
    const query = opts.fromOffset === undefined ? '' : `?fromOffset=${opts.fromOffset}`;
    return this.conn.request('GET', `${this.path(id, 'output')}${query}`, {
      signal: opts.signal,
      requestTimeoutMs: opts.requestTimeoutMs,
    });
  }

  private path(id?: string, action?: string): string {
    const base = `/v1/sandboxes/${encodeURIComponent(this.sandboxId)}/pty`;
    return id === undefined ? base : `${base}/${encodeURIComponent(id)}/${action}`;
  }
}
