import { PaddockError, type WatchLine, WatchQuery } from '@paddock/protocol';
import type { FastifyInstance } from 'fastify';
import { openWatch } from '../../agent-client/watch-stream.js';
import type { ApiContext } from '../context.js';
import { sendNdjson } from '../ndjson-reply.js';
import { requestSignal } from '../request-signal.js';
import { parseOrThrow } from '../validate.js';

/**
 * `GET /v1/sandboxes/:id/files/watch?path=&recursive=&filter=`: relays the agent's watch
 * stream (docs/api.md). The agent is asked before the 200 goes out, so an unknown sandbox
 * or a missing path answers with its own status; the client going away ends the watch.
 */
export function watchRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Params: { id: string } }>('/v1/sandboxes/:id/files/watch', async (request, reply) => {
    const query = parseOrThrow(WatchQuery, request.query ?? {}, 'watch query');
    const lines = await openWatch(ctx.agentOf(request.params.id), query, requestSignal(reply));
    return sendNdjson(reply, (signal) => relay(ctx, lines, signal));
  });
}

async function* relay(
  ctx: ApiContext,
  lines: AsyncGenerator<WatchLine>,
  signal: AbortSignal,
): AsyncGenerator<WatchLine> {
  try {
    yield* lines;
  } catch (err) {
    if (signal.aborted) return;
    const pe =
      err instanceof PaddockError
        ? err
        : new PaddockError('INTERNAL', 'watch stream failed', undefined, { cause: err });
    if (pe.code === 'INTERNAL') ctx.logger.error({ err }, 'watch stream failed');
    yield { type: 'error', error: pe.toBody() };
  }
}
