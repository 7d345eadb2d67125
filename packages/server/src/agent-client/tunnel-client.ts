import { type IncomingMessage, request } from 'node:http';
import type { Duplex } from 'node:stream';
import { type ListeningPort, ListeningPorts, PaddockError } from '@paddock/protocol';
import { agentSocketConnector } from './agent-socket.js';
import { type AgentRequest, readJsonBody, transportError } from './transport.js';

/**
 * What tunnels and port listings need of the agent's client (`AgentClient` has it). Narrow, so
 * that agent-client.ts builds on this file without an import circle.
 */
export interface TunnelAgent {
  readonly socketPath: string;
  raw(request: AgentRequest): Promise<IncomingMessage>;
}

/** Options every call takes (as `CallOptions` of agent-client.ts). */
interface TunnelCallOptions {
  signal?: AbortSignal | undefined;
}

/** The agent's `Upgrade` token for a raw tunnel (docs/agent-protocol.md, `GET /tunnel`). */
const TUNNEL_PROTOCOL = 'paddock-tunnel';

/**
 * Opens a raw byte stream to TCP `port` on the sandbox's loopback, through the agent's
 * control socket (never the sandbox's network, so egress policy and gVisor's missing
 * netstack do not matter). Resolves once the agent is connected to the port; rejects with
 * PORT_NOT_OPEN when nothing listens, UNAVAILABLE when the agent is unreachable, or the
 * signal's reason. The caller owns the returned socket and must destroy it.
 */
export function openTunnel(agent: TunnelAgent, port: number, options: TunnelCallOptions = {}): Promise<Duplex> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    // A dedicated connection (no agent: createConnection is used only without one): an
    // upgraded socket never returns to a keep-alive pool.
    const outgoing = request({
      createConnection: agentSocketConnector(agent.socketPath),
      method: 'GET',
      path: `/tunnel?port=${port}`,
      headers: { connection: 'Upgrade', upgrade: TUNNEL_PROTOCOL },
    });
    let settled = false;
    const settle = (err: unknown, socket?: Duplex) => {
      if (settled) {
        socket?.destroy();
        return;
      }
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (socket) resolve(socket);
      else reject(signal?.aborted ? signal.reason : transportError(err));
    };
    const onAbort = () => {
      outgoing.destroy();
      settle(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    outgoing.on('error', (err) => settle(err));
    outgoing.on('upgrade', (_res, socket, head) => {
      socket.setNoDelay?.(true);
      // Bytes of the port's own answer that arrived with the 101 belong to the stream.
      if (head.length > 0) socket.unshift(head);
      settle(undefined, socket);
    });
    outgoing.on('response', (res) => {
      readJsonBody(res).then(
        (body) => settle(agentError(body, res.statusCode ?? 0)),
        (err: unknown) => settle(err),
      );
    });
    outgoing.end();
  });
}

/** The TCP sockets listening inside the sandbox (`GET /ports` of the agent). */
export async function listListeningPorts(
  agent: TunnelAgent,
  options: TunnelCallOptions = {},
): Promise<ListeningPort[]> {
  const res = await agent.raw({ method: 'GET', path: '/ports', signal: options.signal });
  return ListeningPorts.parse(await readJsonBody(res)).listening;
}

function agentError(body: unknown, status: number): PaddockError {
  const { code, message, details } = (body ?? {}) as { code?: unknown; message?: unknown; details?: unknown };
  if (code === 'PORT_NOT_OPEN' || code === 'INVALID_ARGUMENT' || code === 'NOT_FOUND') {
    return new PaddockError(code, String(message), details as Record<string, unknown> | undefined);
  }
  return new PaddockError('INTERNAL', `sandbox agent refused the tunnel with HTTP ${status}: ${String(message)}`);
}
