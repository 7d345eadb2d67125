import { existsSync } from 'node:fs';
import { chown, lstat, mkdir, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Isolation, PaddockError, type SandboxCapabilities } from '@paddock/protocol';
import { failpoint } from '../failpoints.js';
import { type DataPaths, dataPaths } from '../paths.js';
import { quiesceAgent } from './agent-health.js';
import { AgentRoot } from './agent-root.js';
import { SandboxCgroups } from './cgroups.js';
import { hostCommand } from './host-command.js';
import { logTail } from './log-tail.js';
import { unmountAll } from './mounts.js';
import type { OciCli } from './oci-cli.js';
import { ociSpec, RUN_MOUNT } from './oci-spec.js';
import type { HibernateMode, Runtime, RuntimeState, RuntimeUsage, SandboxLaunch } from './runtime.js';
import { initAlive, waitForAgent, withLog, withNote } from './sandbox-death.js';
import { assertSandboxId, type SandboxLayout, sandboxLayout } from './sandbox-layout.js';
import { createMarkerFile, socketsBoundIn } from './sandbox-writable.js';
import { UID_BASE } from './uid-map.js';
import { copyTree, mountWritableLayer, releaseWritableLayer, remountWritableLayer } from './writable-layer.js';

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
  /** How long create waits for the agent's `GET /health`. Default 60000 (a busy host is slow, not broken). */
  startTimeoutMs?: number;
}

/**
 * How long a restart waits for a running sandbox's agent: a woken gVisor agent polls for its
 * wake file every 5 ms, a live one answers at once; 15 s leaves room for a loaded host.
 */
const REVIVE_TIMEOUT_MS = 15_000;

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
    this.startTimeoutMs = options.startTimeoutMs ?? 60_000;
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
      let failure = error;
      await this.destroy(launch.id).catch((cleanup: unknown) => {
        failure = withNote(error, `cleanup also failed: ${String(cleanup)}`);
      });
      throw failure;
    }
  }

  private async launch(layout: SandboxLayout, launch: SandboxLaunch, signal?: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(this.startTimeoutMs);
    const bounded = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      await this.prepareBundle(layout, launch, undefined, bounded);
      await this.startBundle(layout, signal, bounded);
    } catch (error) {
      if (timeout.aborted && !signal?.aborted) {
        throw withNote(
          error,
          `the sandbox did not become ready within ${this.startTimeoutMs} ms (is the host overloaded?)`,
        );
      }
      throw error;
    }
  }

  /** Writable layer (seeded from `seedUpper` for forks), runtime resources, agent config and OCI spec. */
  protected async prepareBundle(
    layout: SandboxLayout,
    launch: SandboxLaunch,
    seedUpper: string | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    await mkdir(layout.runDir, { mode: 0o700 });
    await chown(layout.runDir, UID_BASE, UID_BASE);
    const lowerDirs = [...(launch.layers ?? []), launch.rootfs];
    const [agentRoot] = await Promise.all([
      this.agentRoot.prepare(signal),
      mountWritableLayer(layout, { lowerDirs, diskMiB: launch.diskMiB, seedUpper }, signal),
      this.cli.prepare(layout, signal, launch.network),
      writeFile(layout.agentConfig, JSON.stringify(launch.agent), { mode: 0o644 }),
    ]);
    const spec = ociSpec({
      launch,
      agentRoot,
      runDir: layout.runDir,
      cgroupsPath: this.cgroups.ociPath(launch.id),
      flavor: this.cli.flavor,
      // gVisor's sandboxes see the sentry's own cgroupfs; the host cgroup holds only the sentry.
      ...(this.cli.flavor === 'crun' ? { cpuCgroupDir: this.cgroups.dir('cpu', launch.id) } : {}),
    });
    await writeFile(layout.ociConfig, JSON.stringify(spec));
    await chown(layout.agentConfig, UID_BASE, UID_BASE);
  }

  /** Starts the prepared bundle (fresh, or from `image`) and waits for its agent. */
  private async startBundle(
    layout: SandboxLayout,
    signal: AbortSignal | undefined,
    bounded: AbortSignal,
    image?: string,
  ): Promise<void> {
    // O_APPEND: runsc writes the container's stdio at its own offsets; '>' would clobber.
    const log = await open(layout.log, 'a', 0o600);
    try {
      if (image !== undefined && this.cli.restore) {
        await rm(layout.wakeFile, { force: true });
        await this.cli.restore(layout, image, log.fd, bounded);
        failpoint('wake.restored');
        // The restored agent sits quiesced until this file appears (see the agent's quiesce.ts).
        await createMarkerFile(layout.wakeFile);
      } else {
        await this.cli.start(layout, log.fd, bounded);
      }
    } catch (error) {
      throw withLog(error, await logTail(layout.log));
    } finally {
      await log.close();
    }
    await waitForAgent(layout, this.startTimeoutMs, signal);
  }

  async state(id: string): Promise<RuntimeState> {
    const layout = this.layout(id);
    const status = await this.cli.status(id);
    if (status === undefined) return existsSync(layout.dir) ? 'stopped' : 'absent';
    if (status === 'paused') return 'paused';
    // runsc keeps saying `running` after the host OOM killer took its sandbox process.
    if (status === 'running') return (await initAlive(layout)) ? 'running' : 'stopped';
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
    await this.stopProcesses(id);
    await releaseWritableLayer(layout);
    await unmountAll(layout.dir);
    await rm(layout.dir, { recursive: true, force: true });
  }

  /** Kills every process and removes the runtime's state and the cgroups; disk stays. */
  private async stopProcesses(id: string): Promise<void> {
    // A frozen task does not die of SIGKILL until it is thawed.
    await this.cgroups.setFrozen(id, false).catch(() => undefined);
    await this.cgroups.killAll(id); // stop everything now, before the slower steps
    // Only ask the runtime when it holds state: a broken or hanging runtime binary must not
    // block the cleanup of a create that never got that far.
    if ((await this.cli.ids()).includes(id)) await this.cli.delete(id);
    await this.cgroups.remove(id);
  }

  capabilities(): SandboxCapabilities {
    const checkpoints = this.cli.checkpoint !== undefined && this.cli.restore !== undefined;
    // gVisor's sentry is one host process in the memory cgroup: an OOM there ends all of it.
    return {
      pause: true,
      hibernateWithMemory: checkpoints,
      fork: checkpoints,
      perProcessOom: this.cli.flavor === 'crun',
    };
  }

  pause(id: string, signal?: AbortSignal): Promise<void> {
    return this.cli.pause(this.layout(id), signal);
  }

  resume(id: string, signal?: AbortSignal): Promise<void> {
    return this.cli.resume(this.layout(id), signal);
  }

  async hibernate(id: string, mode: HibernateMode, signal?: AbortSignal): Promise<void> {
    const layout = this.layout(id);
    await this.cli.resume(layout, signal);
    if (mode === 'memory') await this.checkpointTo(layout, layout.checkpointTmp, signal);
    failpoint('hibernate.checkpointed');
    await this.stopProcesses(id);
    failpoint('hibernate.stopped');
    if (mode === 'memory') {
      // The rename is the commit point: before it, a crash leaves a running sandbox (or a
      // temp image that reconcile restores from); after it, a complete checkpoint.
      await rename(layout.checkpointTmp, layout.checkpoint);
    }
  }

  async wake(id: string, signal?: AbortSignal): Promise<HibernateMode> {
    const layout = this.layout(id);
    const timeout = AbortSignal.timeout(this.startTimeoutMs);
    const bounded = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const checkpoint = await this.checkpointOf(id);
    // Runtime state left by the stopped sandbox (or a crash) would make start/restore fail.
    await this.stopProcesses(id);
    // After a host reboot the layer and the netns are files only: mount them again.
    await remountWritableLayer(layout, bounded);
    await this.cli.reprepare(layout, bounded);
    if (checkpoint !== 'none' && this.cli.restore) {
      const image = checkpoint === 'complete' ? layout.checkpoint : layout.checkpointTmp;
      await this.startBundle(layout, signal, bounded, image);
      await rm(image, { recursive: true, force: true });
      return 'memory';
    }
    await this.startBundle(layout, signal, bounded);
    return 'filesystem';
  }

  async reviveAgent(id: string, signal?: AbortSignal): Promise<boolean> {
    const layout = this.layout(id);
    // No socket: the agent quiesced for a checkpoint, or was restored, and waits for this file.
    if (!(await lstat(layout.agentSocket).catch(() => undefined))) await createMarkerFile(layout.wakeFile);
    try {
      await waitForAgent(layout, REVIVE_TIMEOUT_MS, signal);
    } catch {
      return false;
    }
    // The sandbox runs from memory: an image left by a cut-short hibernate or wake is stale,
    // and the next hibernate must find no finished one in its way.
    await rm(layout.checkpoint, { recursive: true, force: true });
    await rm(layout.checkpointTmp, { recursive: true, force: true });
    return true;
  }

  async checkpointOf(id: string): Promise<'complete' | 'partial' | 'none'> {
    const layout = this.layout(id);
    if (existsSync(join(layout.checkpoint, 'checkpoint.img'))) return 'complete';
    if (existsSync(join(layout.checkpointTmp, 'checkpoint.img'))) return 'partial';
    return 'none';
  }

  async fork(parentId: string, children: SandboxLaunch[], signal?: AbortSignal): Promise<void> {
    if (!this.capabilities().fork) throw new Error(`${this.cli.flavor} cannot checkpoint, so it cannot fork`);
    const parent = this.layout(parentId);
    // The parent's temp checkpoint: if the server dies mid-fork, reconcile restores from it.
    const image = parent.checkpointTmp;
    await this.cli.resume(parent, signal);
    await this.checkpointTo(parent, image, signal);
    const timeout = AbortSignal.timeout(this.startTimeoutMs * (1 + children.length));
    const bounded = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      // The parent's upper now matches the image: copy it before the parent runs again.
      const started: string[] = [];
      try {
        for (const launch of children) {
          const layout = this.layout(launch.id);
          await mkdir(layout.dir, { mode: 0o711 });
          started.push(launch.id);
          await this.prepareBundle(layout, launch, parent.upperDir, bounded);
          await this.startBundle(layout, signal, bounded, image);
        }
      } catch (error) {
        await Promise.allSettled(started.map((id) => this.destroy(id)));
        throw error;
      }
    } finally {
      await this.stopProcesses(parentId);
      await this.startBundle(parent, signal, bounded, image);
      await rm(image, { recursive: true, force: true });
    }
  }

  async exportLayer(id: string, dest: string, signal?: AbortSignal): Promise<void> {
    await mkdir(dirname(dest), { recursive: true, mode: 0o711 });
    await mkdir(dest, { mode: 0o755 });
    await copyTree(this.layout(id).upperDir, dest, signal);
  }

  /**
   * Quiesces the agent (gVisor cannot save a bound host socket), then checkpoints into the
   * new dir `image`, synced to disk. On failure the agent listens again if the sandbox lives.
   */
  private async checkpointTo(layout: SandboxLayout, image: string, signal?: AbortSignal): Promise<void> {
    const checkpoint = this.cli.checkpoint;
    if (!checkpoint) throw new Error(`${this.cli.flavor} cannot checkpoint`);
    const sockets = await socketsBoundIn(layout.runDir, basename(layout.agentSocket));
    if (sockets.length > 0) {
      throw new PaddockError(
        'CONFLICT',
        `cannot save the sandbox's memory: a process in it listens on the Unix socket ${RUN_MOUNT}/${sockets[0]}, ` +
          `which is on a host directory and cannot be checkpointed; close it or bind it elsewhere (e.g. /tmp), ` +
          'or hibernate with keepMemory: false',
        { sandboxId: layout.id, sockets: sockets.slice(0, 10).map((s) => `${RUN_MOUNT}/${s}`) },
      );
    }
    await rm(image, { recursive: true, force: true });
    await mkdir(image, { mode: 0o700 });
    await rm(layout.wakeFile, { force: true });
    await quiesceAgent(layout.agentSocket, signal);
    failpoint('checkpoint.quiesced');
    const log = await open(layout.log, 'a', 0o600);
    try {
      await checkpoint.call(this.cli, layout, image, log.fd, signal);
      await hostCommand('sync', ['--file-system', image], { signal });
    } catch (error) {
      await rm(image, { recursive: true, force: true });
      if ((await this.state(layout.id)) === 'running') await createMarkerFile(layout.wakeFile);
      throw withLog(error, await logTail(layout.log));
    } finally {
      await log.close();
    }
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
}
