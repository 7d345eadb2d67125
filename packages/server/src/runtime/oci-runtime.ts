import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Isolation, SandboxCapabilities } from '@paddock/protocol';
import { failpoint } from '../core/failpoints.js';
import type {
  HibernateMode,
  Runtime,
  RuntimeConfinement,
  RuntimeState,
  RuntimeUsage,
  SandboxLaunch,
} from '../core/seams/runtime.js';
import { asRuntimeError, RuntimeError, runtimeCall } from '../core/seams/runtime-error.js';
import { type DataPaths, dataPaths } from '../paths.js';
import { AgentRoot } from './agent-root.js';
import { SandboxCgroups } from './cgroups.js';
import { checkpointTo } from './checkpoint-image.js';
import { unmountAll } from './mounts.js';
import { OciBundles } from './oci-bundle.js';
import type { OciCli } from './oci-cli.js';
import { initAlive, waitForAgent, withNote } from './sandbox-death.js';
import { assertSandboxId, isSandboxId, type SandboxLayout, sandboxLayout } from './sandbox-layout.js';
import { createMarkerFile } from './sandbox-writable.js';
import { copyTree, releaseWritableLayer, remountWritableLayer } from './writable-layer.js';

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
  readonly confinement: RuntimeConfinement = { isolated: true, limited: true };
  protected readonly paths: DataPaths;
  protected readonly cgroups: SandboxCgroups;
  private readonly bundles: OciBundles;
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
    const agentRoot = new AgentRoot(join(options.dataDir, 'agent-root'), {
      node: options.nodeBinary ?? (existsSync('/usr/bin/node') ? '/usr/bin/node' : process.execPath),
      tini: options.tiniBinary ?? (existsSync('/usr/bin/tini-static') ? '/usr/bin/tini-static' : '/usr/bin/tini'),
      agentBundle: options.agentBundle ?? DEFAULT_AGENT_BUNDLE,
    });
    this.bundles = new OciBundles({ cli, cgroups: this.cgroups, agentRoot, startTimeoutMs: this.startTimeoutMs });
  }

  layout(id: string): SandboxLayout {
    assertSandboxId(id);
    return sandboxLayout(this.paths.sandboxes, id);
  }

  agentSocket(id: string): string {
    return this.layout(id).agentSocket;
  }

  /** The layout of a sandbox this runtime holds, else `not-found` (an invalid id included). */
  private existing(id: string): SandboxLayout {
    const layout = isSandboxId(id) ? this.layout(id) : undefined;
    if (!layout || !existsSync(layout.dir)) throw new RuntimeError('not-found', `no sandbox ${id} in this runtime`);
    return layout;
  }

  create(launch: SandboxLaunch, signal?: AbortSignal): Promise<void> {
    return runtimeCall(signal, async () => {
      const layout = this.layout(launch.id);
      await mkdir(this.paths.sandboxes, { recursive: true });
      // mkdir without recursive fails on an existing dir: one create per id.
      await mkdir(layout.dir, { mode: 0o711 }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
        throw new RuntimeError('conflict', `sandbox id ${launch.id} is in use`, { details: { sandboxId: launch.id } });
      });
      try {
        await this.launch(layout, launch, signal);
      } catch (error) {
        // The create error is what the caller needs; a failed cleanup is appended to it (the
        // sandbox then shows up in list() for reconcile to retry).
        let failure = asRuntimeError(error, signal);
        await this.destroy(launch.id).catch((cleanup: unknown) => {
          failure = new RuntimeError('failed', withNote(failure, `cleanup also failed: ${String(cleanup)}`).message, {
            cause: failure,
          });
        });
        throw failure;
      }
    });
  }

  private async launch(layout: SandboxLayout, launch: SandboxLaunch, signal?: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(this.startTimeoutMs);
    const bounded = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      await this.bundles.prepare(layout, launch, undefined, bounded);
      await this.bundles.start(layout, { signal, bounded });
    } catch (error) {
      if (timeout.aborted && !signal?.aborted) {
        const note = `the sandbox did not become ready within ${this.startTimeoutMs} ms (is the host overloaded?)`;
        throw new RuntimeError('timeout', withNote(error, note).message, { cause: error });
      }
      throw error;
    }
  }

  async state(id: string): Promise<RuntimeState> {
    if (!isSandboxId(id)) return 'absent';
    const layout = this.layout(id);
    const status = await this.cli.status(id).catch((error: unknown) => {
      throw asRuntimeError(error);
    });
    if (status === undefined) return existsSync(layout.dir) ? 'stopped' : 'absent';
    if (status === 'paused') return 'paused';
    // runsc keeps saying `running` after the host OOM killer took its sandbox process.
    if (status === 'running') return (await initAlive(layout)) ? 'running' : 'stopped';
    return 'stopped';
  }

  async usage(id: string): Promise<RuntimeUsage> {
    this.existing(id);
    return this.cgroups.usage(id).catch((error: NodeJS.ErrnoException) => {
      // Hibernated (or found dead and stopped): its cgroups went with its processes.
      if (error.code === 'ENOENT') return { memoryBytes: 0, oomKills: 0 };
      throw asRuntimeError(error);
    });
  }

  /**
   * Kills every process first (SIGKILL to each task in the sandbox's cgroups: immediate, no
   * runtime fork), then removes runtime state, cgroups, mounts, loop device and the dir.
   * Concurrent calls for one id share the work; each step tolerates a missing resource.
   */
  destroy(id: string): Promise<void> {
    // No sandbox can have an invalid id: destroying it is destroying an absent one.
    if (!isSandboxId(id)) return Promise.resolve();
    let pending = this.destroying.get(id);
    if (!pending) {
      pending = this.teardown(id)
        .catch((error: unknown) => {
          throw asRuntimeError(error);
        })
        .finally(() => this.destroying.delete(id));
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
    return runtimeCall(signal, () => this.cli.pause(this.existing(id), signal));
  }

  resume(id: string, signal?: AbortSignal): Promise<void> {
    return runtimeCall(signal, () => this.cli.resume(this.existing(id), signal));
  }

  hibernate(id: string, mode: HibernateMode, signal?: AbortSignal): Promise<void> {
    return runtimeCall(signal, async () => {
      const layout = this.existing(id);
      if (mode === 'memory') this.require('hibernateWithMemory');
      await this.cli.resume(layout, signal);
      if (mode === 'memory') await this.checkpoint(layout, layout.checkpointTmp, signal);
      failpoint('hibernate.checkpointed');
      await this.stopProcesses(id);
      failpoint('hibernate.stopped');
      if (mode === 'memory') {
        // The rename is the commit point: before it, a crash leaves a running sandbox (or a
        // temp image that reconcile restores from); after it, a complete checkpoint.
        await rename(layout.checkpointTmp, layout.checkpoint);
      }
    });
  }

  wake(id: string, signal?: AbortSignal): Promise<HibernateMode> {
    return runtimeCall(signal, async () => {
      const layout = this.existing(id);
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
        await this.bundles.start(layout, { signal, bounded }, image);
        await rm(image, { recursive: true, force: true });
        return 'memory';
      }
      await this.bundles.start(layout, { signal, bounded });
      return 'filesystem';
    });
  }

  reviveAgent(id: string, signal?: AbortSignal): Promise<boolean> {
    return runtimeCall(signal, async () => {
      const layout = this.existing(id);
      // No socket: the agent quiesced for a checkpoint, or was restored, and waits for this file.
      if (!(await lstat(layout.agentSocket).catch(() => undefined))) await createMarkerFile(layout.wakeFile);
      try {
        await waitForAgent(layout, REVIVE_TIMEOUT_MS, signal);
      } catch (error) {
        if (signal?.aborted) throw error;
        return false;
      }
      // The sandbox runs from memory: an image left by a cut-short hibernate or wake is stale,
      // and the next hibernate must find no finished one in its way.
      await rm(layout.checkpoint, { recursive: true, force: true });
      await rm(layout.checkpointTmp, { recursive: true, force: true });
      return true;
    });
  }

  async checkpointOf(id: string): Promise<'complete' | 'partial' | 'none'> {
    const layout = this.existing(id);
    if (existsSync(join(layout.checkpoint, 'checkpoint.img'))) return 'complete';
    if (existsSync(join(layout.checkpointTmp, 'checkpoint.img'))) return 'partial';
    return 'none';
  }

  fork(parentId: string, children: SandboxLaunch[], signal?: AbortSignal): Promise<void> {
    return runtimeCall(signal, async () => {
      const parent = this.existing(parentId);
      this.require('fork');
      for (const launch of children) {
        if (existsSync(this.layout(launch.id).dir)) {
          throw new RuntimeError('conflict', `sandbox id ${launch.id} is in use`, {
            details: { sandboxId: launch.id },
          });
        }
      }
      // The parent's temp checkpoint: if the server dies mid-fork, reconcile restores from it.
      const image = parent.checkpointTmp;
      await this.cli.resume(parent, signal);
      await this.checkpoint(parent, image, signal);
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
            await this.bundles.prepare(layout, launch, parent.upperDir, bounded);
            await this.bundles.start(layout, { signal, bounded }, image);
          }
        } catch (error) {
          await Promise.allSettled(started.map((id) => this.destroy(id)));
          throw error;
        }
      } finally {
        // The parent runs again even when the caller gave up on the children.
        const parentTimeout = AbortSignal.timeout(this.startTimeoutMs);
        await this.stopProcesses(parentId);
        await this.bundles.start(parent, { signal: undefined, bounded: parentTimeout }, image);
        await rm(image, { recursive: true, force: true });
      }
    });
  }

  exportLayer(id: string, dest: string, signal?: AbortSignal): Promise<void> {
    return runtimeCall(signal, async () => {
      const layout = this.existing(id);
      await mkdir(dirname(dest), { recursive: true, mode: 0o711 });
      await mkdir(dest, { mode: 0o755 });
      await copyTree(layout.upperDir, dest, signal);
    });
  }

  /** `not-supported` unless this runtime has `capability` (both need checkpoints). */
  private require(capability: 'hibernateWithMemory' | 'fork'): void {
    if (!this.capabilities()[capability]) {
      throw new RuntimeError('not-supported', `${this.cli.flavor} cannot checkpoint: no capability ${capability}`);
    }
  }

  private checkpoint(layout: SandboxLayout, image: string, signal?: AbortSignal): Promise<void> {
    const stillRunning = async () => (await this.state(layout.id)) === 'running';
    return checkpointTo(this.cli, { layout, image, stillRunning }, signal);
  }

  async list(): Promise<string[]> {
    const ids = new Set<string>([...(await this.cli.ids()), ...(await this.cgroups.ids())]);
    try {
      for (const name of await readdir(this.paths.sandboxes)) ids.add(name);
    } catch {
      // no sandboxes dir yet
    }
    return [...ids].filter(isSandboxId).sort();
  }
}
