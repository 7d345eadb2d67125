import { existsSync } from 'node:fs';
import { chown, mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Isolation } from '@paddock/protocol';
import { type DataPaths, dataPaths } from '../paths.js';
import { waitHealthy } from './agent-health.js';
import { AgentRoot } from './agent-root.js';
import { SandboxCgroups } from './cgroups.js';
import { logTail } from './log-tail.js';
import { unmountAll } from './mounts.js';
import type { OciCli } from './oci-cli.js';
import { ociSpec } from './oci-spec.js';
import type { Runtime, RuntimeState, RuntimeUsage, SandboxLaunch } from './runtime.js';
import { assertSandboxId, type SandboxLayout, sandboxLayout } from './sandbox-layout.js';
import { UID_BASE } from './uid-map.js';
import { mountWritableLayer, releaseWritableLayer } from './writable-layer.js';

/** Options shared by both drivers. */
export interface OciRuntimeOptions {
  /** Server data dir (see `dataPaths`): sandboxes, runtime state and agent-root live under it. */
  dataDir: string;
  /** cgroup parent, in every v1 hierarchy. Default `paddock`. */
  cgroupParent?: string;
  /** The bundled agent. Default `packages/agent/dist/agent.js` of this checkout. */
  agentBundle?: string;
  /** Node binary mounted into sandboxes. Default `/usr/bin/node`, else `process.execPath`. */
  nodeBinary?: string;
  /** Init for PID 1. Default `/usr/bin/tini-static`, else `/usr/bin/tini`. */
  tiniBinary?: string;
  /** The OCI runtime binary. Tests point it at a failing or hanging script (fault injection). */
  runtimeBinary?: string;
  /** How long create waits for the agent's `GET /health`. Default 15000. */
  startTimeoutMs?: number;
}

export const DEFAULT_AGENT_BUNDLE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../agent/dist/agent.js');

/** The `Runtime` on an OCI CLI: everything both drivers share. */
export class OciRuntime implements Runtime {
  readonly isolation: Isolation;
  protected readonly paths: DataPaths;
  protected readonly cgroups: SandboxCgroups;
  private readonly agentRoot: AgentRoot;
  private readonly startTimeoutMs: number;
  private readonly destroying = new Map<string, Promise<void>>();

  constructor(
    options: OciRuntimeOptions,
    protected readonly cli: OciCli,
  ) {
    this.isolation = cli.isolation;
    this.paths = dataPaths(options.dataDir);
    this.cgroups = new SandboxCgroups(options.cgroupParent ?? 'paddock');
    this.startTimeoutMs = options.startTimeoutMs ?? 15_000;
    this.agentRoot = new AgentRoot(join(options.dataDir, 'agent-root'), {
      node: options.nodeBinary ?? (existsSync('/usr/bin/node') ? '/usr/bin/node' : process.execPath),
      tini: options.tiniBinary ?? (existsSync('/usr/bin/tini-static') ? '/usr/bin/tini-static' : '/usr/bin/tini'),
      agentBundle: options.agentBundle ?? DEFAULT_AGENT_BUNDLE,
    });
  }

  layout(id: string): SandboxLayout {
    assertSandboxId(id);
    return sandboxLayout(this.paths.sandboxes, id);
  }

  agentSocket(id: string): string {
    return this.layout(id).agentSocket;
  }

  async create(launch: SandboxLaunch, signal?: AbortSignal): Promise<void> {
    const layout = this.layout(launch.id);
    await mkdir(this.paths.sandboxes, { recursive: true });
    // mkdir without recursive fails on an existing dir: one create per id.
    await mkdir(layout.dir, { mode: 0o711 });
    try {
      await this.launch(layout, launch, signal);
    } catch (error) {
      // The create error is what the caller needs; a failed cleanup is appended to it (the
      // sandbox then shows up in list() for reconcile to retry).
      await this.destroy(launch.id).catch((cleanup: unknown) => {
        if (error instanceof Error) error.message += `\ncleanup also failed: ${String(cleanup)}`;
      });
      throw error;
    }
  }

  private async launch(layout: SandboxLayout, launch: SandboxLaunch, signal?: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(this.startTimeoutMs);
    const bounded = signal ? AbortSignal.any([signal, timeout]) : timeout;
    await mkdir(layout.runDir, { mode: 0o700 });
    await chown(layout.runDir, UID_BASE, UID_BASE);
    const [agentRoot] = await Promise.all([
      this.agentRoot.prepare(bounded),
      mountWritableLayer(layout, { lowerDir: launch.rootfs, diskMiB: launch.diskMiB }, bounded),
      this.cli.prepare(layout, bounded),
      writeFile(layout.agentConfig, JSON.stringify(launch.agent), { mode: 0o644 }),
    ]);
    const spec = ociSpec({
      launch,
      agentRoot,
      runDir: layout.runDir,
      cgroupsPath: this.cgroups.ociPath(launch.id),
      flavor: this.cli.flavor,
    });
    await writeFile(layout.ociConfig, JSON.stringify(spec));
    await chown(layout.agentConfig, UID_BASE, UID_BASE);
    // O_APPEND: runsc writes the container's stdio at its own offsets; '>' would clobber.
    const log = await open(layout.log, 'a', 0o600);
    try {
      await this.cli.start(layout, log.fd, bounded);
    } catch (error) {
      throw withLog(error, await logTail(layout.log));
    } finally {
      await log.close();
    }
    await waitHealthy({
      socketPath: layout.agentSocket,
      timeoutMs: this.startTimeoutMs,
      signal,
      deathReason: async () => ((await this.initAlive(layout)) ? undefined : await deathNote(layout)),
    });
  }

  async state(id: string): Promise<RuntimeState> {
    const layout = this.layout(id);
    const status = await this.cli.status(id);
    if (status === undefined) return existsSync(layout.dir) ? 'stopped' : 'absent';
    if (status === 'paused') return 'paused';
    // runsc keeps saying `running` after the host OOM killer took its sandbox process.
    if (status === 'running') return (await this.initAlive(layout)) ? 'running' : 'stopped';
    return 'stopped';
  }

  async usage(id: string): Promise<RuntimeUsage> {
    return this.cgroups.usage(id);
  }

  /**
   * Kills every process first (SIGKILL to each task in the sandbox's cgroups: immediate, no
   * runtime fork), then removes runtime state, cgroups, mounts, loop device and the dir.
   * Concurrent calls for one id share the work; each step tolerates a missing resource.
   */
  destroy(id: string): Promise<void> {
    assertSandboxId(id);
    let pending = this.destroying.get(id);
    if (!pending) {
      pending = this.teardown(id).finally(() => this.destroying.delete(id));
      this.destroying.set(id, pending);
    }
    return pending;
  }

  private async teardown(id: string): Promise<void> {
    const layout = this.layout(id);
    await this.cgroups.killAll(id); // stop everything now, before the slower steps
    // Only ask the runtime when it holds state: a broken or hanging runtime binary must not
    // block the cleanup of a create that never got that far.
    if ((await this.cli.ids()).includes(id)) await this.cli.delete(id);
    await this.cgroups.remove(id);
    await releaseWritableLayer(layout);
    await unmountAll(layout.dir);
    await rm(layout.dir, { recursive: true, force: true });
  }

  async list(): Promise<string[]> {
    const ids = new Set<string>([...(await this.cli.ids()), ...(await this.cgroups.ids())]);
    try {
      for (const name of await readdir(this.paths.sandboxes)) ids.add(name);
    } catch {
      // no sandboxes dir yet
    }
    return [...ids].filter((id) => /^[a-z0-9]{20}$/.test(id)).sort();
  }

  /** Whether the container init (crun) or sandbox process (runsc) is alive and not a zombie. */
  private async initAlive(layout: SandboxLayout): Promise<boolean> {
    let pid: number;
    try {
      pid = Number((await readFile(layout.pidFile, 'utf8')).trim());
    } catch {
      return false;
    }
    if (!Number.isInteger(pid) || pid <= 0) return false;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      return state !== 'Z' && state !== 'X';
    } catch {
      return false;
    }
  }
}

async function deathNote(layout: SandboxLayout): Promise<string> {
  const tail = await logTail(layout.log);
  return tail ? `log tail:\n${tail}` : 'the log is empty';
}

function withLog(error: unknown, tail: string): unknown {
  if (!(error instanceof Error) || !tail) return error;
  error.message = `${error.message}\nlog tail:\n${tail}`;
  return error;
}
