import {
  CommandEvent,
  type ProcessInfo,
  ProcessInfo as ProcessInfoSchema,
  ProcessList,
  type RunCommandRequest,
} from '@paddock/protocol';
import { CommandHandle, type FollowOptions } from './command-handle.js';
import { type Connection, checked } from './connection.js';
import { CommandExitError, SandboxError, UnavailableError } from './errors.js';
import { collectResult, decodeOutputEvents } from './output-events.js';

/** Options of {@link Commands.run} and {@link Commands.stream}. */
export interface RunOptions {
  /** Working directory (absolute); default the template's workdir or the user's home. */
  cwd?: string;
  /** Extra environment, over the sandbox's `env`. */
  env?: Record<string, string>;
  /** User to run as (name or uid); default `user`. */
  user?: string;
  /** Kill the command after this long (ms); 0 means never. Default 60 000. */
  timeoutMs?: number;
  /** Bytes for the command's stdin; stdin is closed after them. */
  stdin?: string | Uint8Array;
  /** Called with each stdout chunk as it arrives (decoded as UTF-8). */
  onStdout?: (data: string) => void;
  /** Called with each stderr chunk as it arrives (decoded as UTF-8). */
  onStderr?: (data: string) => void;
  /** `run` throws {@link CommandExitError} on a non-zero exit unless this is false. Default true. */
  throwOnError?: boolean;
  /** Cancels the command (it is killed in the sandbox). */
  signal?: AbortSignal;
  /** How long to wait for the server to accept the command. */
  requestTimeoutMs?: number;
  /**
   * Start the command and return a {@link CommandHandle} at once; it keeps running when
   * this client disconnects, and has no time limit unless `timeoutMs` is given.
   */
  background?: boolean;
}

/** The outcome of a finished command. */
export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Signal that ended the command, e.g. `SIGKILL`. */
  signal?: string;
  /** True when the kernel's OOM killer ended it (memory limit reached). */
  oomKilled?: boolean;
}

/** A decoded stream event: output as text and as the raw bytes. */
export type CommandOutputEvent =
  | { type: 'start'; pid: number }
  | { type: 'stdout' | 'stderr'; data: string; bytes: Uint8Array; offset: number }
  | {
      type: 'exit';
      exitCode: number;
      signal?: string | undefined;
      timedOut?: boolean | undefined;
      oomKilled?: boolean | undefined;
    };

/** Runs commands inside a sandbox. Reach it as `sandbox.commands`. */
export class Commands {
  constructor(
    private readonly conn: Connection,
    private readonly sandboxId: string,
  ) {}

  /**
   * Runs a command to completion and returns its output and exit code.
   * A string runs through the shell; an array runs the program directly.
   *
   * @example
   * ```ts
   * const r = await sbx.commands.run('python3 -c "print(6*7)"') // r.stdout === '42\n'
   * await sbx.commands.run(['ls', '-la', '/'], { cwd: '/tmp', onStdout: (d) => process.stdout.write(d) })
   * ```
   */
  async run(cmd: string | readonly string[], opts: RunOptions & { background: true }): Promise<CommandHandle>;
  async run(cmd: string | readonly string[], opts?: RunOptions & { background?: false }): Promise<CommandResult>;
  async run(cmd: string | readonly string[], opts: RunOptions = {}): Promise<CommandResult | CommandHandle> {
    if (opts.background === true) return this.start(cmd, opts);
    return collectResult(this.stream(cmd, opts), {
      onStdout: opts.onStdout,
      onStderr: opts.onStderr,
      throwOnError: opts.throwOnError,
      timeoutMessage: `command timed out after timeoutMs=${opts.timeoutMs ?? 60_000} and was killed; pass a larger timeoutMs (0 = no limit)`,
      // Only a cut connection ends a stream early (the server sends an `error` event otherwise).
      noExit: () => new UnavailableError('UNAVAILABLE', 'the command stream ended without an exit status'),
    });
  }

  /**
   * Runs a command and yields its events as they happen: `start`, output chunks, `exit`.
   *
   * @example
   * ```ts
   * for await (const ev of sbx.commands.stream('make')) if (ev.type === 'stdout') process.stdout.write(ev.data)
   * ```
   */
  async *stream(cmd: string | readonly string[], opts: RunOptions = {}): AsyncGenerator<CommandOutputEvent> {
    const req = commandRequest(cmd, opts);
    const res = await this.conn.request('POST', `/v1/sandboxes/${this.sandboxId}/commands`, {
      json: req,
      signal: opts.signal,
      requestTimeoutMs: opts.requestTimeoutMs,
    });
    yield* decodeOutputEvents(res, (raw) => {
      const parsed = CommandEvent.safeParse(raw);
      if (!parsed.success) throw new SandboxError('INTERNAL', `unexpected command event: ${JSON.stringify(raw)}`);
      return parsed.data;
    });
  }

  /** Every process of the sandbox: running ones and the most recent finished ones (with exit codes). */
  async list(opts: Pick<RunOptions, 'signal'> = {}): Promise<ProcessInfo[]> {
    const body = await this.conn.json('GET', `/v1/sandboxes/${this.sandboxId}/processes`, { signal: opts.signal });
    return checked((v) => ProcessList.safeParse(v), body).processes;
  }

  /**
   * Reattaches to a process by id (from `run(…, { background: true })`, `list()`, or
   * another client): iterate the handle to replay from `fromOffset` and follow.
   * Throws {@link NotFoundError} for an unknown id.
   */
  async connect(id: string, opts: FollowOptions = {}): Promise<CommandHandle> {
    const path = `/v1/sandboxes/${this.sandboxId}/processes/${encodeURIComponent(id)}`;
    const info = checked(
      (v) => ProcessInfoSchema.safeParse(v),
      await this.conn.json('GET', path, { signal: opts.signal }),
    );
    const handle = new CommandHandle(this.conn, this.sandboxId, info, opts);
    if (opts.onStdout || opts.onStderr) handle.startFollowing();
    return handle;
  }

  private async start(cmd: string | readonly string[], opts: RunOptions): Promise<CommandHandle> {
    const json = { ...commandRequest(cmd, opts), background: true };
    const body = await this.conn.json('POST', `/v1/sandboxes/${this.sandboxId}/processes`, {
      json,
      signal: opts.signal,
      requestTimeoutMs: opts.requestTimeoutMs,
    });
    const info = checked((v) => ProcessInfoSchema.safeParse(v), body);
    const handle = new CommandHandle(this.conn, this.sandboxId, info, {
      onStdout: opts.onStdout,
      onStderr: opts.onStderr,
    });
    if (opts.onStdout || opts.onStderr) handle.startFollowing();
    return handle;
  }
}

function commandRequest(cmd: string | readonly string[], opts: RunOptions): RunCommandRequest {
  const req: RunCommandRequest = typeof cmd === 'string' ? { cmd } : { argv: [...cmd] };
  if (opts.cwd !== undefined) req.cwd = opts.cwd;
  if (opts.env !== undefined) req.env = opts.env;
  if (opts.user !== undefined) req.user = opts.user;
  if (opts.timeoutMs !== undefined) req.timeoutMs = opts.timeoutMs;
  if (opts.stdin !== undefined) req.stdinBase64 = Buffer.from(opts.stdin).toString('base64');
  return req;
}
