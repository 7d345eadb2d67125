import type { Isolation } from '@paddock/protocol';
import type { Runtime, RuntimeState, RuntimeUsage, SandboxLaunch } from '../runtime.js';

/**
 * An in-memory Runtime for unit tests of `core` (never as proof that sandboxes work).
 * `failNextCreate` and `holdCreates` inject faults and races.
 */
export class FakeRuntime implements Runtime {
  readonly sandboxes = new Map<string, { launch: SandboxLaunch; state: RuntimeState }>();
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
}
