import {
  ProcessEvent,
  ProcessInfo,
  type SignalName,
  type SignalScope,
  type ProcessEvent as WireProcessEvent,
} from '@paddock/protocol';
import type { CommandResult } from './commands.js';
import { type Connection, checked } from './connection.js';
import { CommandExitError, SandboxError, TimeoutError } from './errors.js';
import { collectResult, decodeOutputEvents } from './output-events.js';

/** A decoded process event: output as text and bytes, each with its combined-output offset. */
export type ProcessOutputEvent =
  | { type: 'start'; id: string; pid: number }
  | { type: 'stdout' | 'stderr'; data: string; bytes: Uint8Array; offset: number }
  | { type: 'truncated'; fromOffset: number; toOffset: number }
  | Extract<WireProcessEvent, { type: 'exit' }>;

/** Options of {@link CommandHandle.kill}. */
export interface KillOptions {
  /** Default `SIGKILL`. */
  signal?: SignalName;
  /** `tree` (default: everything the command started, daemons included), `group` or `process`. */
  scope?: SignalScope;
}

/** Callbacks and offset for following a process's output. */
export interface FollowOptions {
  /** Combined-output offset to start from; 0 replays everything still retained. */
  fromOffset?: number;
  onStdout?: ((data: string) => void) | undefined;
  onStderr?: ((data: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * A process running in a sandbox (from `commands.run(…, { background: true })` or
 * `commands.connect(id)`). It keeps running when this handle, or the whole client, goes
 * away; any client can reattach by id and resume from a byte offset.
 *
 * @example
 * ```ts
 * const p = await sbx.commands.run('npm run dev', { background: true, onStdout: (d) => log(d) })
 * await p.sendStdin('y\n')
 * await p.kill()
 * const again = await sbx.commands.connect(p.id, { fromOffset: 0 })
 * for await (const ev of again) if (ev.type === 'stdout') process.stdout.write(ev.bytes)
 * ```
 */
export class CommandHandle implements AsyncIterable<ProcessOutputEvent> {
  private following: Promise<CommandResult> | undefined;
  private readonly controller = new AbortController();

  constructor(
    private readonly conn: Connection,
    private readonly sandboxId: string,
    /** The process's id (give it to `commands.connect`) and pid inside the sandbox. */
    readonly info: Pick<ProcessInfo, 'id' | 'pid'>,
    private readonly follow: FollowOptions = {},
  ) {}

  get id(): string {
    return this.info.id;
  }

  get pid(): number {
    return this.info.pid;
  }

  /** Starts delivering output to the callbacks now (used by `run` with `background`). */
  startFollowing(): void {
    this.following ??= this.collect();
    // Rejections surface through wait(); an unobserved one must not crash the process.
    this.following.catch(() => {});
  }

  /**
   * Waits for the process to exit and returns its output (from `fromOffset`). Throws
   * {@link CommandExitError} on a non-zero exit and {@link TimeoutError} when its
   * `timeoutMs` ran out, like `commands.run`.
   */
  wait(): Promise<CommandResult> {
    this.startFollowing();
    return this.following as Promise<CommandResult>;
  }

  /** Writes to the process's stdin; `eof: true` closes it afterwards. */
  async sendStdin(data: string | Uint8Array, opts: { eof?: boolean } = {}): Promise<void> {
    const json = { dataBase64: Buffer.from(data).toString('base64'), ...(opts.eof ? { eof: true } : {}) };
    await this.conn.json('POST', this.path('/stdin'), { json });
  }

  /** Closes stdin: the process reads EOF. */
  async closeStdin(): Promise<void> {
    await this.conn.json('POST', this.path('/stdin'), { json: { eof: true } });
  }

  /** Sends a signal; by default SIGKILL to the whole tree, so nothing it started outlives it. */
  async kill(signalOrOptions: SignalName | KillOptions = {}): Promise<ProcessInfo> {
    const opts = typeof signalOrOptions === 'string' ? { signal: signalOrOptions } : signalOrOptions;
    return checked((v) => ProcessInfo.safeParse(v), await this.conn.json('POST', this.path('/signal'), { json: opts }));
  }

  /** The process's current state (running, exit code, output size). */
  async getInfo(): Promise<ProcessInfo> {
    return checked((v) => ProcessInfo.safeParse(v), await this.conn.json('GET', this.path()));
  }

  /** Stops following the output; the process keeps running. */
  disconnect(): void {
    this.controller.abort(new Error('disconnected from the process; it keeps running'));
  }

  /** Events from `fromOffset` (default: the handle's), then live ones, ending with `exit`. */
  async *events(fromOffset = this.follow.fromOffset ?? 0, signal?: AbortSignal): AsyncGenerator<ProcessOutputEvent> {
    const signals = [
      this.controller.signal,
      ...(signal ? [signal] : []),
      ...(this.follow.signal ? [this.follow.signal] : []),
    ];
    const res = await this.conn.request('GET', `${this.path('/events')}?fromOffset=${fromOffset}`, {
      signal: AbortSignal.any(signals),
    });
    yield* decodeOutputEvents(res, (raw) => checked((v) => ProcessEvent.safeParse(v), raw));
  }

  [Symbol.asyncIterator](): AsyncIterator<ProcessOutputEvent> {
    return this.events();
  }

  private collect(): Promise<CommandResult> {
    return collectResult(this.events(), {
      onStdout: this.follow.onStdout,
      onStderr: this.follow.onStderr,
      timeoutMessage: `process ${this.id} ran past its timeoutMs and was killed; pass a larger timeoutMs (0 = no limit)`,
      noExit: () => new SandboxError('UNAVAILABLE', 'the process stream ended before the process exited; reconnect'),
    });
  }

  private path(rest = ''): string {
    return `/v1/sandboxes/${this.sandboxId}/processes/${encodeURIComponent(this.id)}${rest}`;
  }
}
