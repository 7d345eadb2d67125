import { Agent, type ClientRequestArgs } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Idle tunnels are closed after this long: below the 5 s keep-alive of Node's and most
 * servers' defaults, so a pooled tunnel is rarely one the sandbox's server is closing. A
 * server that announces `Keep-Alive: timeout=N` shortens it (node's agent keeps N - 1 s, and
 * does not pool at all below 2 s).
 */
const IDLE_MS = 4_000;

/** Keep-alive pools of tunnels, one per sandbox and port: a request reuses an idle tunnel. */
export class TunnelAgents {
  private readonly agents = new Map<string, TunnelAgent>();

  constructor(private readonly open: (target: { sandboxId: string; port: number }) => Promise<Duplex>) {}

  /** The pool of `port` of the sandbox (made on first use). */
  of(target: { sandboxId: string; port: number }): Agent {
    const key = `${target.sandboxId}:${target.port}`;
    let agent = this.agents.get(key);
    if (agent === undefined) {
      agent = new TunnelAgent(() => this.open(target));
      this.agents.set(key, agent);
    }
    return agent;
  }

  /** Drops the pools of a sandbox that is gone. */
  forget(sandboxId: string): void {
    for (const [key, agent] of this.agents) {
      if (!key.startsWith(`${sandboxId}:`)) continue;
      agent.destroy();
      this.agents.delete(key);
    }
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}

/** An http.Agent whose connections are tunnels through the sandbox's agent. */
class TunnelAgent extends Agent {
  constructor(private readonly open: () => Promise<Duplex>) {
    super({ keepAlive: true, timeout: IDLE_MS, maxFreeSockets: 8, scheduling: 'lifo' });
  }

  override createConnection(
    _options: ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    this.open().then(
      (tunnel) => callback?.(null, tunnel),
      (err: Error) => callback?.(err, undefined as unknown as Duplex),
    );
    return undefined;
  }
}
