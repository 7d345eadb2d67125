import type { ServerResponse } from 'node:http';
import { AGENT_FEATURES, type AgentHealth } from '@paddock/protocol';

/** Set by build.mjs from package.json; `dev` when the sources run unbundled. */
declare const __AGENT_VERSION__: string | undefined;
const VERSION = typeof __AGENT_VERSION__ === 'string' ? __AGENT_VERSION__ : 'dev';

/**
 * `GET /health`: `{ ok, pid, uptimeMs, version, features }`, the handshake the host reads once
 * per connection to decide which requests it may send; cheap, and free of the
 * request-handling modules.
 */
export function answerHealth(res: ServerResponse): void {
  const health: AgentHealth = {
    ok: true,
    pid: process.pid,
    uptimeMs: Math.round(performance.now()),
    version: VERSION,
    features: [...AGENT_FEATURES],
  };
  const body = JSON.stringify(health);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
