import {
  type CreateSandboxRequest,
  ForkResult,
  type Isolation,
  type NetworkRequest,
  type OnTimeout,
  SandboxInfo,
  SandboxList,
  type SandboxState,
  type SecretsRequest,
  SnapshotInfo,
  type VolumeMount,
} from '@paddock/protocol';
import {
  CodeContexts,
  CodeInterpreter,
  type Execution,
  type ExecutionEvent,
  type RunCodeOptions,
} from './code-interpreter.js';
import { Commands } from './commands.js';
import { Connection, type ConnectionOptions, checked } from './connection.js';
import { NotFoundError } from './errors.js';
import { Files } from './files.js';
import { SandboxNetwork } from './network.js';
import { Ports } from './ports.js';
import { Pty } from './pty.js';

/** States in which a sandbox's processes do not run (frozen, on disk, or on their way there or back). */
export const PAUSED_STATES: readonly SandboxState[] = ['pausing', 'paused', 'hibernating', 'hibernated', 'resuming'];

/** Options of {@link Sandbox.create}. Every field is optional. */
export interface SandboxCreateOptions extends ConnectionOptions {
  /** Template name; default `base`. */
  template?: string;
  /** The sandbox is killed this long after creation unless extended with `setTimeout`. Default 300 000. */
  timeoutMs?: number;
  memoryMiB?: number;
  cpus?: number;
  /** Cap of the sandbox's writable disk. */
  diskMiB?: number;
  /** Maximum number of processes/threads. */
  pids?: number;
  /** `container` (crun, default) or `gvisor` (runsc, hardened). */
  isolation?: Isolation;
  /** Environment of every command in the sandbox. */
  env?: Record<string, string>;
  /** Your labels; filter `Sandbox.list` by them. */
  metadata?: Record<string, string>;
  /** What happens when `timeoutMs` runs out: `kill` (default), `pause` or `hibernate` (gVisor). */
  onTimeout?: OnTimeout;
  /** Calls that need a running sandbox resume it when it is paused or hibernated. */
  autoResume?: boolean;
  /** How long it is kept while paused or hibernated before it is deleted; default 7 days. */
  retentionMs?: number;
  /** Named volumes to mount, e.g. `[{ name: 'cache', path: '/mnt/cache' }]` (see {@link Volume}). */
  volumes?: VolumeMount[];
  /**
   * Secrets the sandbox never sees: each `NAME` is set to a placeholder in the sandbox's env,
   * and the host's egress proxy puts the real value in its place in request headers sent to
   * `hosts` only (exact names or `*.suffix`; HTTPS through a per-sandbox CA the sandbox trusts).
   *
   * @example
   * ```ts
   * await Sandbox.create({ secrets: { OPENAI_API_KEY: { value: 'sk-…', hosts: ['api.openai.com'] } } })
   * ```
   */
  secrets?: SecretsRequest;
  /**
   * Egress policy and bandwidth cap. Default egress: the server's (`none` unless configured).
   *
   * @example
   * ```ts
   * await Sandbox.create({ network: { egress: 'allowlist', allow: ['api.example.com', '*.example.org', '203.0.113.0/24:443'] } })
   * ```
   */
  network?: NetworkRequest;
}

/** Options of {@link Sandbox.list}. */
export interface SandboxListOptions extends ConnectionOptions {
  /** Only sandboxes whose metadata has all these pairs. */
  metadata?: Record<string, string>;
  /** Only these states; default the live ones (every state but `killed` and `error`, paused and hibernated included). */
  state?: SandboxState[];
}

/**
 * A live sandbox. Dispose it (`await using`) or call `kill()` when done.
 *
 * @example
 * ```ts
 * await using sbx = await Sandbox.create({ template: 'base', memoryMiB: 512 })
 * const r = await sbx.commands.run('python3 -c "print(6*7)"')
 * ```
 */
export class Sandbox implements AsyncDisposable {
  /** Runs commands in the sandbox. */
  readonly commands: Commands;
  /** Reads and writes files in the sandbox. */
  readonly files: Files;
  /** Interactive terminals (PTY sessions) in the sandbox. */
  readonly pty: Pty;
  /** Exposed ports: preview URLs with scoped, expiring tokens; public ports; what listens. */
  readonly ports: Ports;
  /** Code contexts of the code interpreter (each its own kernel); see {@link Sandbox.runCode}. */
  readonly codeContexts: CodeContexts;
  /** Egress policy (live updates), address and refused attempts. */
  readonly network: SandboxNetwork;
  private readonly code: CodeInterpreter;

  private constructor(
    readonly id: string,
    private readonly conn: Connection,
  ) {
    this.commands = new Commands(conn, id);
    this.files = new Files(conn, id);
    this.pty = new Pty(conn, id);
    this.ports = new Ports(conn, id);
    this.codeContexts = new CodeContexts(conn, id);
    this.network = new SandboxNetwork(conn, id);
    this.code = new CodeInterpreter(conn, id);
  }

  /**
   * Runs a cell in a stateful kernel (Python by default; needs a template with ipykernel,
   * e.g. `code-interpreter`) and resolves with its results, output and exception.
   *
   * @example
   * ```ts
   * const ex = await sbx.runCode('import pandas as pd; pd.DataFrame({"a": [1, 2]})')
   * ex.results[0]?.data // { columns: ['a'], index: [0, 1], rows: [[1], [2]] }
   * ```
   */
  runCode(code: string, opts: RunCodeOptions = {}): Promise<Execution> {
    return this.code.run(code, opts);
  }

  /** Like {@link Sandbox.runCode}, as an async iterable of events in the order produced. */
  streamCode(code: string, opts: RunCodeOptions = {}): AsyncGenerator<ExecutionEvent> {
    return this.code.stream(code, opts);
  }

  /** The Host that reaches `port` of this sandbox, `{port}-{id}.{domain}` (see {@link Ports.host}). */
  getHost(port: number): string {
    return this.ports.host(port);
  }

  /** Creates a sandbox (claimed from the warm pool when one of the same shape is ready). */
  static async create(opts: SandboxCreateOptions = {}): Promise<Sandbox> {
    const conn = new Connection(opts);
    const body: CreateSandboxRequest = {};
    for (const key of [
      'template',
      'timeoutMs',
      'memoryMiB',
      'cpus',
      'diskMiB',
      'pids',
      'isolation',
      'env',
      'metadata',
      'onTimeout',
      'autoResume',
      'retentionMs',
      'volumes',
      'secrets',
      'network',
    ] as const) {
      if (opts[key] !== undefined) (body as Record<string, unknown>)[key] = opts[key];
    }
    const info = checked(
      (v) => SandboxInfo.safeParse(v),
      await conn.json('POST', '/v1/sandboxes', {
        json: body,
        signal: opts.signal,
        requestTimeoutMs: opts.requestTimeoutMs,
      }),
    );
    return new Sandbox(info.id, conn);
  }

  /**
   * Attaches to an existing sandbox by id and makes sure it runs: a paused or hibernated one is
   * resumed, which replaces its retention with a fresh `timeoutMs` (as E2B's `Sandbox.connect`).
   * Throws {@link NotFoundError} for an unknown id. To look at a sandbox without waking it, use
   * `Sandbox.handle(id)` and `getInfo()`.
   *
   * @example
   * ```ts
   * const info = await Sandbox.handle(id).getInfo() // reads; a paused sandbox stays paused
   * const sbx = await Sandbox.connect(id) // resumes it
   * ```
   */
  static async connect(id: string, opts: ConnectionOptions = {}): Promise<Sandbox> {
    const conn = new Connection(opts);
    const sandbox = new Sandbox(id, conn);
    const info = await sandbox.getInfo(opts);
    if (PAUSED_STATES.includes(info.state)) await sandbox.resume(opts);
    return sandbox;
  }

  /**
   * Starts `count` new sandboxes from one checkpoint of a running gVisor sandbox: the same
   * memory (variables of a REPL, open files), each with its own copy of the filesystem.
   * Random generators are forked too: reseed them in each fork where values must differ.
   *
   * @example
   * ```ts
   * const forks = await Sandbox.fork(sbx.id, { count: 4 })
   * ```
   */
  static async fork(
    id: string,
    opts: ConnectionOptions & { count: number; metadata?: Record<string, string> },
  ): Promise<Sandbox[]> {
    const conn = new Connection(opts);
    const body = checked(
      (v) => ForkResult.safeParse(v),
      await conn.json('POST', `/v1/sandboxes/${encodeURIComponent(id)}/fork`, {
        json: { count: opts.count, ...(opts.metadata ? { metadata: opts.metadata } : {}) },
        signal: opts.signal,
        requestTimeoutMs: opts.requestTimeoutMs ?? 0,
      }),
    );
    return body.sandboxes.map((info) => new Sandbox(info.id, conn));
  }

  /**
   * A handle on a sandbox by id without any call (unlike `connect`, it neither checks nor
   * resumes it). Calls that need the sandbox running fail with `SandboxPausedError` while
   * it is paused, unless it was created with `autoResume`.
   */
  static handle(id: string, opts: ConnectionOptions = {}): Sandbox {
    return new Sandbox(id, new Connection(opts));
  }

  /** Lists sandboxes, filtered by metadata and state. */
  static async list(opts: SandboxListOptions = {}): Promise<SandboxInfo[]> {
    const conn = new Connection(opts);
    const query = new URLSearchParams();
    if (opts.state?.length) query.set('state', opts.state.join(','));
    for (const [k, v] of Object.entries(opts.metadata ?? {})) query.set(`metadata.${k}`, v);
    const body = await conn.json('GET', `/v1/sandboxes?${query.toString()}`, opts);
    return checked((v) => SandboxList.safeParse(v), body).sandboxes;
  }

  /** Kills a sandbox by id. Resolves true when it was killed, false when it did not exist. */
  static async kill(id: string, opts: ConnectionOptions = {}): Promise<boolean> {
    try {
      await new Connection(opts).json('DELETE', `/v1/sandboxes/${encodeURIComponent(id)}`, opts);
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  /** The sandbox's current state, limits, metadata and expiry. */
  async getInfo(opts: Pick<ConnectionOptions, 'signal' | 'requestTimeoutMs'> = {}): Promise<SandboxInfo> {
    return checked(
      (v) => SandboxInfo.safeParse(v),
      await this.conn.json('GET', `/v1/sandboxes/${encodeURIComponent(this.id)}`, opts),
    );
  }

  /** True while the sandbox is running. */
  async isRunning(): Promise<boolean> {
    return (await this.getInfo()).state === 'running';
  }

  /** Makes the sandbox expire `timeoutMs` from now (extends or shortens its life). */
  async setTimeout(timeoutMs: number, opts: Pick<ConnectionOptions, 'signal'> = {}): Promise<SandboxInfo> {
    return checked(
      (v) => SandboxInfo.safeParse(v),
      await this.conn.json('POST', `/v1/sandboxes/${this.id}/timeout`, { json: { timeoutMs }, signal: opts.signal }),
    );
  }

  /** Freezes every process in RAM (milliseconds to resume). Pausing a paused sandbox is fine. */
  async pause(opts: Pick<ConnectionOptions, 'signal' | 'requestTimeoutMs'> = {}): Promise<SandboxInfo> {
    return this.stateCall('pause', undefined, opts);
  }

  /** Brings a paused or hibernated sandbox back; resuming a running one is fine. */
  async resume(opts: Pick<ConnectionOptions, 'signal' | 'requestTimeoutMs'> = {}): Promise<SandboxInfo> {
    return this.stateCall('resume', undefined, opts);
  }

  /**
   * Writes the sandbox to disk and frees its RAM. gVisor sandboxes keep memory and processes;
   * `container` sandboxes can only keep their files and need `keepMemory: false` (their
   * processes restart on resume; `getInfo().processesRestarted` says so).
   */
  async hibernate(
    opts: Pick<ConnectionOptions, 'signal' | 'requestTimeoutMs'> & { keepMemory?: boolean } = {},
  ): Promise<SandboxInfo> {
    return this.stateCall('hibernate', opts.keepMemory === undefined ? {} : { keepMemory: opts.keepMemory }, opts);
  }

  /**
   * Saves the sandbox's filesystem as a template: `Sandbox.create({ template: name })`.
   *
   * @example
   * ```ts
   * await sbx.snapshot({ name: 'my-env' })
   * ```
   */
  async snapshot(
    opts: Pick<ConnectionOptions, 'signal' | 'requestTimeoutMs'> & { name: string },
  ): Promise<SnapshotInfo> {
    return checked(
      (v) => SnapshotInfo.safeParse(v),
      await this.conn.json('POST', `/v1/sandboxes/${this.id}/snapshot`, {
        json: { name: opts.name },
        signal: opts.signal,
        requestTimeoutMs: opts.requestTimeoutMs ?? 0,
      }),
    );
  }

  private async stateCall(
    verb: string,
    json: unknown,
    opts: Pick<ConnectionOptions, 'signal' | 'requestTimeoutMs'>,
  ): Promise<SandboxInfo> {
    return checked(
      (v) => SandboxInfo.safeParse(v),
      await this.conn.json('POST', `/v1/sandboxes/${this.id}/${verb}`, {
        json: json ?? {},
        signal: opts.signal,
        // Hibernate and resume from disk take seconds on a loaded host.
        requestTimeoutMs: opts.requestTimeoutMs ?? 0,
      }),
    );
  }

  /** Kills the sandbox and frees its resources. Killing a killed sandbox is fine. */
  async kill(opts: Pick<ConnectionOptions, 'signal'> = {}): Promise<void> {
    await this.conn.json('DELETE', `/v1/sandboxes/${this.id}`, { signal: opts.signal, requestTimeoutMs: 0 });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
  }
}
