import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Isolation, SandboxCapabilities } from '@paddock/protocol';
import { healthStatus } from '../../agent-client/lifecycle-client.js';
import type {
  HibernateMode,
  Runtime,
  RuntimeConfinement,
  RuntimeState,
  RuntimeUsage,
  SandboxLaunch,
} from '../../core/seams/runtime.js';
import { RuntimeError, runtimeCall } from '../../core/seams/runtime-error.js';
import { hostCommand } from '../host-command.js';
import { type HostAgentOptions, HostAgents } from './host-agents.js';

export interface FakeRuntimeOptions {
  /**
   * Run each sandbox's agent as a host process (see host-agents.ts), for API tests without
   * root. Without it a sandbox is a record only and its agent socket leads nowhere (unit tests
   * of `core`).
   */
  hostAgents?: HostAgentOptions;
}

interface FakeSandbox {
  launch: SandboxLaunch;
  state: RuntimeState;
  checkpoint?: 'complete' | 'partial';
}

/**
 * A Runtime without root, never proof that sandboxes work: records only (unit tests of
 * `core`, with `failNextCreate`, `holdCreates` and `holdHibernate` to inject faults and races),
 * or host-process agents (`hostAgents`: the in-process API test level). It enforces nothing
 * (`confinement`), and with host agents it cannot checkpoint, so hibernate keeps only files.
 */
export class FakeRuntime implements Runtime {
  readonly sandboxes = new Map<string, FakeSandbox>();
  readonly confinement: RuntimeConfinement = { isolated: false, limited: false };
  /** Every state verb called, e.g. `pause <id>`, in order. */
  readonly calls: string[] = [];
  /** While set, hibernate waits on it (to test crashes and races mid-checkpoint). */
  holdHibernate: Promise<void> | undefined;
  readonly destroyed: string[] = [];
  failNextCreate: Error | undefined;
  /** While set, create waits on it (to test kills racing a boot). */
  holdCreates: Promise<void> | undefined;
  private readonly agents: HostAgents | undefined;

  constructor(
    readonly isolation: Isolation = 'container',
    options: FakeRuntimeOptions = {},
  ) {
    this.agents = options.hostAgents ? new HostAgents(options.hostAgents) : undefined;
  }

  create(launch: SandboxLaunch, signal?: AbortSignal): Promise<void> {
    return runtimeCall(signal, async () => {
      if (this.failNextCreate) {
        const err = this.failNextCreate;
        this.failNextCreate = undefined;
        throw err;
      }
      if (this.sandboxes.has(launch.id)) throw new RuntimeError('conflict', `sandbox id ${launch.id} is in use`);
      this.sandboxes.set(launch.id, { launch, state: 'running' });
      try {
        if (this.holdCreates) await untilAborted(this.holdCreates, signal);
        if (this.agents) {
          await this.agents.prepare(launch);
          await this.agents.start(launch.id, signal);
        }
      } catch (error) {
        // Nothing of a failed or aborted create stays.
        this.sandboxes.delete(launch.id);
        await this.agents?.remove(launch.id);
        throw error;
      }
    });
  }

  /** Where a host-agent sandbox's files are on the host (its agent's workdir); undefined without host agents. */
  filesDirOf(id: string): string | undefined {
    return this.agents?.rootOf(id);
  }

  agentSocket(id: string): string {
    return this.agents ? this.agents.socketOf(id) : `/nonexistent/${id}/agent.sock`;
  }

  async state(id: string): Promise<RuntimeState> {
    const sandbox = this.sandboxes.get(id);
    if (!sandbox || !this.agents || sandbox.state === 'stopped') return sandbox?.state ?? 'absent';
    // The process is the truth: an agent killed behind the runtime's back is a stopped sandbox.
    const status = await this.agents.status(id);
    return status === 'gone' ? 'stopped' : status === 'frozen' ? 'paused' : 'running';
  }

  async usage(id: string): Promise<RuntimeUsage> {
    const sandbox = this.must(id);
    if (!this.agents || sandbox.state === 'stopped') return { memoryBytes: 0, oomKills: 0 };
    // No memory cgroup: nothing is limited, so nothing is ever OOM-killed.
    return { memoryBytes: await this.agents.memoryBytes(id), oomKills: 0 };
  }

  async destroy(id: string): Promise<void> {
    this.sandboxes.delete(id);
    await this.agents?.remove(id);
    this.destroyed.push(id);
  }

  async list(): Promise<string[]> {
    return [...this.sandboxes.keys()];
  }

  capabilities(): SandboxCapabilities {
    const gvisor = this.isolation === 'gvisor';
    // A host process cannot be checkpointed; records can pretend to be.
    const checkpoints = gvisor && !this.agents;
    return { pause: true, hibernateWithMemory: checkpoints, fork: checkpoints, perProcessOom: !gvisor };
  }

  private must(id: string): FakeSandbox {
    const sandbox = this.sandboxes.get(id);
    if (!sandbox) throw new RuntimeError('not-found', `fake runtime: no sandbox ${id}`);
    return sandbox;
  }

  pause(id: string, signal?: AbortSignal): Promise<void> {
    return runtimeCall(signal, async () => {
      this.calls.push(`pause ${id}`);
      const sandbox = this.must(id);
      if (sandbox.state !== 'running') return;
      await this.agents?.signalAll(id, 'SIGSTOP');
      sandbox.state = 'paused';
    });
  }

  resume(id: string, signal?: AbortSignal): Promise<void> {
    return runtimeCall(signal, async () => {
      this.calls.push(`resume ${id}`);
      const sandbox = this.must(id);
      if (sandbox.state !== 'paused') return;
      await this.agents?.signalAll(id, 'SIGCONT');
      sandbox.state = 'running';
    });
  }

  hibernate(id: string, mode: HibernateMode, signal?: AbortSignal): Promise<void> {
    return runtimeCall(signal, async () => {
      this.calls.push(`hibernate ${id} ${mode}`);
      const sandbox = this.must(id);
      if (mode === 'memory') {
        if (!this.capabilities().hibernateWithMemory) {
          throw new RuntimeError(
            'not-supported',
            'the fake runtime cannot checkpoint: no capability hibernateWithMemory',
          );
        }
        sandbox.checkpoint = 'partial';
      }
      if (this.holdHibernate) await untilAborted(this.holdHibernate, signal);
      await this.agents?.stop(id);
      sandbox.state = 'stopped';
      if (mode === 'memory') sandbox.checkpoint = 'complete';
    });
  }

  wake(id: string, signal?: AbortSignal): Promise<HibernateMode> {
    return runtimeCall(signal, async () => {
      this.calls.push(`wake ${id}`);
      const sandbox = this.must(id);
      const mode = sandbox.checkpoint ? 'memory' : 'filesystem';
      if (this.agents) {
        await this.agents.stop(id);
        await this.agents.start(id, signal);
      }
      delete sandbox.checkpoint;
      sandbox.state = 'running';
      return mode;
    });
  }

  reviveAgent(id: string, signal?: AbortSignal): Promise<boolean> {
    return runtimeCall(signal, async () => {
      const sandbox = this.must(id);
      if (sandbox.state !== 'running') return false;
      if (this.agents && (await healthStatus(this.agents.socketOf(id), 2_000).catch(() => 0)) !== 200) return false;
      delete sandbox.checkpoint;
      return true;
    });
  }

  async checkpointOf(id: string): Promise<'complete' | 'partial' | 'none'> {
    return this.must(id).checkpoint ?? 'none';
  }

  fork(parentId: string, children: SandboxLaunch[], signal?: AbortSignal): Promise<void> {
    return runtimeCall(signal, async () => {
      this.calls.push(`fork ${parentId} ${children.length}`);
      this.must(parentId);
      if (!this.capabilities().fork) {
        throw new RuntimeError('not-supported', 'the fake runtime cannot checkpoint: no capability fork');
      }
      for (const launch of children) this.sandboxes.set(launch.id, { launch, state: 'running' });
    });
  }

  exportLayer(id: string, dest: string, signal?: AbortSignal): Promise<void> {
    return runtimeCall(signal, async () => {
      this.calls.push(`export ${id} ${dest}`);
      this.must(id);
      if (!this.agents) return;
      // The sandbox's files are all "changes": it has no template underneath.
      await mkdir(dirname(dest), { recursive: true, mode: 0o711 });
      await mkdir(dest, { mode: 0o755 });
      await hostCommand('cp', ['-a', '--', `${this.agents.rootOf(id)}/.`, `${dest}/`], { signal });
    });
  }
}

/** `hold`, or the signal's reason once it aborts. */
function untilAborted(hold: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return hold;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    hold.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
