import { parseNdjson, WatchLine, type WatchQuery } from '@paddock/protocol';
import type { AgentClient } from './agent-client.js';
import { transportError } from './transport.js';

/**
 * Opens a watch on the agent (`GET /watch`). Resolves once the agent has taken its first
 * snapshot, so a missing path rejects with the agent's NOT_FOUND before anything is
 * streamed; then yields the agent's lines. Aborting `signal` closes the connection, which
 * ends the watch in the sandbox.
 */
export async function openWatch(
  agent: AgentClient,
  query: WatchQuery,
  signal: AbortSignal,
): Promise<AsyncGenerator<WatchLine>> {
  const res = await agent.raw({
    method: 'GET',
    path: '/watch',
    query: {
      path: query.path,
      recursive: query.recursive === undefined ? undefined : String(query.recursive),
      filter: query.filter,
    },
    signal,
  });
  return (async function* () {
    try {
      for await (const value of parseNdjson(res)) yield WatchLine.parse(value);
    } catch (err) {
      throw signal.aborted ? signal.reason : transportError(err);
    } finally {
      if (!res.complete) res.destroy();
    }
  })();
}
