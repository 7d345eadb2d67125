import { request } from 'node:http';
import { agentSocketConnector } from './agent-socket.js';

/**
 * The agent's lifecycle routes for the runtime, which knows a socket path and no client:
 * `GET /health` while it boots (any agent, the runtime's stand-in included: only the status
 * counts) and `POST /quiesce` before a checkpoint. Each call has its own connection: a
 * quiesced agent closes every connection, and a boot poll must not keep one alive.
 */
export function healthStatus(socketPath: string, timeoutMs: number): Promise<number> {
  return statusOf(socketPath, { method: 'GET', path: '/health', timeoutMs });
}

/** Asks the agent to stop listening and drop its connections; resolves with the HTTP status. */
export function quiesceStatus(socketPath: string, timeoutMs: number): Promise<number> {
  return statusOf(socketPath, { method: 'POST', path: '/quiesce', timeoutMs });
}

function statusOf(
  socketPath: string,
  call: { method: 'GET' | 'POST'; path: '/health' | '/quiesce'; timeoutMs: number },
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = request(
      { createConnection: agentSocketConnector(socketPath), path: call.path, method: call.method },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    // A timer, not the request's `timeout` option: that one never fires on a connection made by
    // `createConnection`, so a frozen agent would hold a boot or a revive past its deadline.
    const timer = setTimeout(() => req.destroy(new Error(`${call.path.slice(1)} request timed out`)), call.timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end();
  });
}
