import { request as httpRequest } from 'node:http';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { PaddockError, type ProcessEvent, type StartProcessRequest } from '@paddock/protocol';
import type { AgentClient } from './agent-client.js';

/**
 * What a template's start command and its ready checks need of a sandbox's agent (core's
 * `StartAgent`): a followed background process, a command run to its end, and TCP / HTTP checks
 * that reach the sandbox's loopback through the agent's tunnel, so they work under any egress
 * policy and any runtime, and never go from the host into the sandbox's network.
 */
export class AgentStartProbes {
  constructor(private readonly agent: AgentClient) {}

  follow(request: StartProcessRequest, signal: AbortSignal): Promise<AsyncIterable<ProcessEvent>> {
    return this.agent.processes.stream(request, { signal, follower: true });
  }

  async run(request: StartProcessRequest, signal: AbortSignal): Promise<number> {
    let exitCode = -1;
    for await (const event of await this.agent.processes.stream(request, { signal })) {
      if (event.type === 'exit') exitCode = event.exitCode;
    }
    return exitCode;
  }

  async connects(port: number, signal: AbortSignal): Promise<boolean> {
    const socket = await this.tunnel(port, signal);
    socket?.destroy();
    return socket !== undefined;
  }

  async httpStatus(url: string, signal: AbortSignal): Promise<number | undefined> {
    const target = new URL(url);
    const https = target.protocol === 'https:';
    const port = Number(target.port || (https ? 443 : 80));
    const tunnel = await this.tunnel(port, signal);
    if (!tunnel) return undefined;
    // A dev server's certificate is its own: the check asks only whether it answers.
    const socket: Duplex = https
      ? tlsConnect({ socket: tunnel, servername: target.hostname, rejectUnauthorized: false })
      : tunnel;
    try {
      return await new Promise<number>((resolve, reject) => {
        const req = httpRequest({
          createConnection: () => socket as never,
          method: 'GET',
          path: `${target.pathname}${target.search}`,
          headers: { host: target.host, connection: 'close' },
          signal,
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    } catch {
      if (signal.aborted) throw signal.reason;
      return undefined;
    } finally {
      socket.destroy();
      tunnel.destroy();
    }
  }

  /** A tunnel to the port, or undefined when nothing listens there yet. */
  private async tunnel(port: number, signal: AbortSignal): Promise<Duplex | undefined> {
    try {
      return await this.agent.tunnel(port, { signal });
    } catch (err) {
      if (err instanceof PaddockError && err.code === 'PORT_NOT_OPEN') return undefined;
      throw err;
    }
  }
}
