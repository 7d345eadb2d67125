import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';

/**
 * Aborts when the client goes away before its response is complete, so that the work done for
 * it (an agent call, a resume, a create) stops too. One rule for every door: the API's routes,
 * the E2B facade's envd and code-interpreter handlers, and NDJSON streams.
 */
export function requestSignal(reply: FastifyReply | ServerResponse): AbortSignal {
  const res = 'raw' in reply ? reply.raw : reply;
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client disconnected'));
  });
  return controller.signal;
}
