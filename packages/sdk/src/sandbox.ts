import {
  type CreateSandboxRequest,
  type Isolation,
  SandboxInfo,
  SandboxList,
  type SandboxState,
} from '@paddock/protocol';
import { Commands } from './commands.js';
import { Connection, type ConnectionOptions, checked } from './connection.js';
import { NotFoundError } from './errors.js';
import { Files } from './files.js';

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
}

/** Options of {@link Sandbox.list}. */
export interface SandboxListOptions extends ConnectionOptions {
  /** Only sandboxes whose metadata has all these pairs. */
  metadata?: Record<string, string>;
  /** Only these states; default the live ones (starting, running, stopping). */
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

  private constructor(
    readonly id: string,
    private readonly conn: Connection,
  ) {
    this.commands = new Commands(conn, id);
    this.files = new Files(conn, id);
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

  /** Attaches to an existing sandbox by id; throws {@link NotFoundError} for an unknown id. */
  static async connect(id: string, opts: ConnectionOptions = {}): Promise<Sandbox> {
    const conn = new Connection(opts);
    const sandbox = new Sandbox(id, conn);
    await sandbox.getInfo(opts);
    return sandbox;
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

  /** Kills the sandbox and frees its resources. Killing a killed sandbox is fine. */
  async kill(opts: Pick<ConnectionOptions, 'signal'> = {}): Promise<void> {
    await this.conn.json('DELETE', `/v1/sandboxes/${this.id}`, { signal: opts.signal, requestTimeoutMs: 0 });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
  }
}
