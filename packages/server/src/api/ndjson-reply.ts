import { Readable } from 'node:stream';
import { ndjsonLine } from '@paddock/protocol';
import type { FastifyReply } from 'fastify';

/**
 * Streams `events` as NDJSON. The signal given to `produce` aborts when the client goes
 * away before the stream ends, so the work behind it (a command, a build) is cancelled.
 */
export function sendNdjson(
  reply: FastifyReply,
  produce: (signal: AbortSignal) => AsyncIterable<unknown>,
): FastifyReply {
  const controller = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new Error('client disconnected'));
  });
  const events = produce(controller.signal);
  const lines = Readable.from(
    (async function* () {
      for await (const event of events) yield ndjsonLine(event);
    })(),
  );
  return reply.type('application/x-ndjson').header('cache-control', 'no-store').send(lines);
}
