import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { SandboxLaunch } from '../../core/seams/runtime.js';
import { waitHealthy } from '../agent-health.js';
import { logTail } from '../log-tail.js';

/** Where and how the fake runtime runs its sandboxes' agents as host processes. */
export interface HostAgentOptions {
  /** Each sandbox gets `<dir>/<id>/` with `root/` (its files, the agent's workdir) and `run/` (socket, config). */
  dir: string;
  /** The agent to run with Node: the built packages/agent bundle, or a stand-in. */
  agentBundle: string;
  /** Default `process.execPath`. */
  nodeBinary?: string;
  /** How long a start waits for `GET /health`. Default 30000. */
  startTimeoutMs?: number;
}

/**
 * Marks every process of one fake sandbox: the agent gets it in its environment and passes it
 * to every command through the agent config's `env`, so that a command that left the agent's
 * process tree (setsid, double fork) is still found, as a cgroup would find it.
 */
export const FAKE_SANDBOX_ENV = 'PADDOCK_FAKE_SANDBOX';

/**
 * Sandboxes that are only host processes: the real agent (or a stand-in), unprivileged, in a
 * temp dir, with no namespace, cgroup or limit. For tests that need an agent but no root;
 * never a sandbox. Pause is SIGSTOP, a stop is SIGKILL to every marked process.
 */
export class HostAgents {
  private readonly agents = new Map<string, ChildProcess>();

  constructor(private readonly options: HostAgentOptions) {}

  dirOf(id: string): string {
    return join(this.options.dir, id);
  }

  rootOf(id: string): string {
    return join(this.dirOf(id), 'root');
  }

  socketOf(id: string): string {
    return join(this.dirOf(id), 'run', 'agent.sock');
  }

  /** Makes the sandbox's dirs (kept by `stop`, so a restart finds its files). */
  async prepare(launch: SandboxLaunch): Promise<void> {
    const runDir = join(this.dirOf(launch.id), 'run');
    await mkdir(this.rootOf(launch.id), { recursive: true, mode: 0o755 });
    await mkdir(runDir, { recursive: true, mode: 0o700 });
    // The host user runs everything: the template's user (e.g. `user`) need not exist here.
    const config = {
      env: { ...launch.agent.env, [FAKE_SANDBOX_ENV]: launch.id },
      defaultUser: userInfo().username,
      workdir: this.rootOf(launch.id),
    };
    await writeFile(join(runDir, 'config.json'), JSON.stringify(config), { mode: 0o600 });
  }

  /** Starts the agent and resolves once it answers `GET /health`. */
  async start(id: string, signal?: AbortSignal): Promise<void> {
    const runDir = join(this.dirOf(id), 'run');
    const logFile = join(this.dirOf(id), 'agent.log');
    const log = await open(logFile, 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawn(this.options.nodeBinary ?? process.execPath, [this.options.agentBundle], {
        cwd: this.rootOf(id),
        env: {
          PADDOCK_SOCKET: this.socketOf(id),
          PADDOCK_CONFIG: join(runDir, 'config.json'),
          [FAKE_SANDBOX_ENV]: id,
          PATH: process.env.PATH ?? '/usr/bin:/bin',
        },
        // Its own process group: a signal to the test's group does not reach it.
        detached: true,
        stdio: ['ignore', log.fd, log.fd],
      });
    } finally {
      await log.close();
    }
    this.agents.set(id, child);
    let gone = false;
    child.once('exit', () => {
      gone = true;
    });
    // A binary that cannot start: `exit` never comes, and an unhandled `error` would throw.
    child.once('error', () => {
      gone = true;
    });
    await waitHealthy({
      socketPath: this.socketOf(id),
      timeoutMs: this.options.startTimeoutMs ?? 30_000,
      signal,
      deathReason: async () => (gone ? `the agent exited; log tail:\n${await logTail(logFile)}` : undefined),
    });
  }

  /** Whether the agent process lives; `frozen` when it is stopped by SIGSTOP. */
  async status(id: string): Promise<'running' | 'frozen' | 'gone'> {
    const child = this.agents.get(id);
    if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return 'gone';
    const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8').catch(() => '');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === '' || state === 'Z' || state === 'X') return 'gone';
    return state === 'T' ? 'frozen' : 'running';
  }

  /** SIGSTOP (or SIGCONT) to every process of the sandbox, agent first so it forks no more. */
  async signalAll(id: string, signal: 'SIGSTOP' | 'SIGCONT'): Promise<void> {
    const agent = this.agents.get(id)?.pid;
    if (agent !== undefined) sendSignal(agent, signal);
    for (const pid of await this.members(id)) sendSignal(pid, signal);
  }

  /** Kills every process of the sandbox (SIGKILL, rounds until none is left); its files stay. */
  async stop(id: string): Promise<void> {
    const child = this.agents.get(id);
    const exited =
      child?.pid !== undefined && child.exitCode === null && child.signalCode === null
        ? new Promise<void>((resolve) => child.once('exit', () => resolve()))
        : Promise.resolve();
    for (let round = 0; round < 20; round++) {
      const pids = await this.members(id);
      if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) pids.push(child.pid);
      if (pids.length === 0) break;
      // SIGCONT after SIGKILL: a stopped process dies of SIGKILL anyway, but be explicit.
      for (const pid of pids) sendSignal(pid, 'SIGKILL');
      for (const pid of pids) sendSignal(pid, 'SIGCONT');
    }
    await exited;
    this.agents.delete(id);
  }

  /** Stops the sandbox and removes its dir. */
  async remove(id: string): Promise<void> {
    await this.stop(id);
    await rm(this.dirOf(id), { recursive: true, force: true });
  }

  /** Resident memory of every process of the sandbox. */
  async memoryBytes(id: string): Promise<number> {
    let total = 0;
    for (const pid of await this.members(id)) {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      total += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
    }
    return total;
  }

  /** Live processes carrying the sandbox's marker (the agent and everything it started). */
  private async members(id: string): Promise<number[]> {
    const found: number[] = [];
    const wanted = `\0${FAKE_SANDBOX_ENV}=${id}\0`;
    for (const name of await readdir('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      // Another user's environment is unreadable, and never one of ours.
      const environ = await readFile(`/proc/${name}/environ`, 'latin1').catch(() => '');
      if (!`\0${environ}`.includes(wanted)) continue;
      const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== '' && state !== 'Z' && state !== 'X') found.push(Number(name));
    }
    return found;
  }
}

function sendSignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Gone already.
  }
}
