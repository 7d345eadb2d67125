import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { CLI } from './cli.js';
import { TEST_API_KEY, TEST_CGROUP_PARENT, TEST_DATA_DIR, TEST_SUBNET } from './env.js';
import { waitFor } from './server.js';

/** A server run as its own process through `paddock serve`, so tests can SIGTERM or kill -9 it. */
export class ServerProcess {
  child: ChildProcess | undefined;
  log = '';

  constructor(
    readonly port: number,
    /** The key `serve --api-key` is given (an `e2b_` one for the E2B facade's tests). */
    readonly apiKey: string = TEST_API_KEY,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts `paddock serve`; `env` adds variables (e.g. `PADDOCK_FAILPOINTS`) for this run only. */
  async start(env: Record<string, string> = {}): Promise<void> {
    this.child = spawn(
      process.execPath,
      [
        CLI,
        'serve',
        '--port',
        String(this.port),
        '--data-dir',
        TEST_DATA_DIR,
        '--api-key',
        this.apiKey,
        '--pool-size',
        '0',
      ],
      {
        env: {
          ...process.env,
          PADDOCK_CGROUP_PARENT: TEST_CGROUP_PARENT,
          PADDOCK_GVISOR_POOL_SIZE: '0',
          PADDOCK_CODE_POOL_SIZE: '0',
          PADDOCK_LOG_LEVEL: 'warn',
          // Tests never forward sandbox traffic off the host unless they pass their own uplink.
          PADDOCK_EGRESS_UPLINK: process.env.PADDOCK_EGRESS_UPLINK ?? 'none',
          PADDOCK_EGRESS_DNS: process.env.PADDOCK_EGRESS_DNS ?? '127.0.0.1',
          PADDOCK_SANDBOX_SUBNET: TEST_SUBNET,
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child.stdout?.on('data', (d: Buffer) => {
      this.log += d.toString();
    });
    this.child.stderr?.on('data', (d: Buffer) => {
      this.log += d.toString();
    });
    await waitFor(
      'the server to answer /health',
      async () => {
        if (this.child?.exitCode !== null) throw new Error(`server exited early:\n${this.log}`);
        const res = await fetch(`${this.url}/health`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      60_000,
    );
  }

  /** Resolves once the process has exited by itself (e.g. at a failpoint). */
  async exited(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await once(child, 'exit');
  }

  /** Stops the server with `signal` and waits for the process to exit. */
  async stop(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }
}
