import type { Isolation, SandboxCapabilities } from '@paddock/protocol';
import type { HibernateMode, Runtime, RuntimeState, RuntimeUsage, SandboxLaunch } from '../runtime.js';

/**
 * An in-memory Runtime for unit tests of `core` (never as proof that sandboxes work).
 * `failNextCreate` and `holdCreates` inject faults and races.
 */
export class FakeRuntime implements Runtime {
  readonly sandboxes = new Map<
    string,
    { launch: SandboxLaunch; state: RuntimeState; checkpoint?: 'complete' | 'partial'; layer?: string }
  >();
  /** Every state verb called, e.g. `pause <id>`, in order. */
  readonly calls: string[] = [];
  /** While set, hibernate waits on it (to test crashes and races mid-checkpoint). */
  holdHibernate: Promise<void> | undefined;
  readonly destroyed: string[] = [];
  failNextCreate: Error | undefined;
  /** While set, create waits on it (to test kills racing a boot). */
  holdCreates: Promise<void> | undefined;

  constructor(readonly isolation: Isolation = 'container') {}

  async create(launch: SandboxLaunch): Promise<void> {
    if (this.failNextCreate) {
      const err = this.failNextCreate;
      this.failNextCreate = undefined;
      throw err;
    }
    this.sandboxes.set(launch.id, { launch, state: 'running' });
    if (this.holdCreates) await this.holdCreates;
  }

  agentSocket(id: string): string {
    return `/nonexistent/${id}/agent.sock`;
  }

  async state(id: string): Promise<RuntimeState> {
    return this.sandboxes.get(id)?.state ?? 'absent';
  }

  async usage(): Promise<RuntimeUsage> {
    return { memoryBytes: 0, oomKills: 0 };
  }

  async destroy(id: string): Promise<void> {
    this.sandboxes.delete(id);
    this.destroyed.push(id);
  }

  async list(): Promise<string[]> {
    return [...this.sandboxes.keys()];
  }

  capabilities(): SandboxCapabilities {
    const gvisor = this.isolation === 'gvisor';
    return { pause: true, hibernateWithMemory: gvisor, fork: gvisor, perProcessOom: !gvisor };
  }

  private must(id: string) {
    const sandbox = this.sandboxes.get(id);
    if (!sandbox) throw new Error(`fake runtime: no sandbox ${id}`);
    return sandbox;
  }

  async pause(id: string): Promise<void> {
    this.calls.push(`pause ${id}`);
    const sandbox = this.must(id);
    if (sandbox.state === 'running') sandbox.state = 'paused';
  }

  async resume(id: string): Promise<void> {
    this.calls.push(`resume ${id}`);
    const sandbox = this.must(id);
    if (sandbox.state === 'paused') sandbox.state = 'running';
  }

  async hibernate(id: string, mode: HibernateMode): Promise<void> {
    this.calls.push(`hibernate ${id} ${mode}`);
    const sandbox = this.must(id);
    if (mode === 'memory') {
      if (!this.capabilities().hibernateWithMemory) throw new Error('fake crun cannot checkpoint');
      sandbox.checkpoint = 'partial';
    }
    if (this.holdHibernate) await this.holdHibernate;
    sandbox.state = 'stopped';
    if (mode === 'memory') sandbox.checkpoint = 'complete';
  }

  async wake(id: string): Promise<HibernateMode> {
    this.calls.push(`wake ${id}`);
    const sandbox = this.must(id);
    const mode = sandbox.checkpoint ? 'memory' : 'filesystem';
    delete sandbox.checkpoint;
    sandbox.state = 'running';
    return mode;
  }

  async reviveAgent(id: string): Promise<boolean> {
    const sandbox = this.sandboxes.get(id);
    if (sandbox?.state !== 'running') return false;
    delete sandbox.checkpoint;
    return true;
  }

  async checkpointOf(id: string): Promise<'complete' | 'partial' | 'none'> {
    return this.sandboxes.get(id)?.checkpoint ?? 'none';
  }

  async fork(parentId: string, children: SandboxLaunch[]): Promise<void> {
    this.calls.push(`fork ${parentId} ${children.length}`);
    this.must(parentId);
    for (const launch of children) this.sandboxes.set(launch.id, { launch, state: 'running' });
  }

  async exportLayer(id: string, dest: string): Promise<void> {
    this.calls.push(`export ${id} ${dest}`);
    this.must(id);
  }
}
