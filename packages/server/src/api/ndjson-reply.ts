import { Readable } from 'node:stream';
import { ndjsonLine, PaddockError } from '@paddock/protocol';
import type { FastifyReply } from 'fastify';
import { OpenStreams } from './open-streams.js';
import { requestSignal } from './request-signal.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every NDJSON stream this server has open, for a graceful stop (see open-streams.ts). */
    openStreams: OpenStreams;
  }
}

/**
 * Streams `events` as NDJSON. The signal given to `produce` aborts when the client goes
 * away before the stream ends, so the work behind it (a command, a build) is cancelled.
 * A server that stops ends the stream with a resumable `error` event (open-streams.ts).
 */
export function sendNdjson(
  reply: FastifyReply,
  produce: (signal: AbortSignal) => AsyncIterable<unknown>,
): FastifyReply {
  // The producer stops when the client goes, or when a server stop ends the stream (below).
  const controller = new AbortController();
  const events = produce(AbortSignal.any([requestSignal(reply), controller.signal]));
  const streams = reply.server.openStreams ?? new OpenStreams();
  const lines = Readable.from(
    (async function* () {
      const stop = new AbortController();
      // Released once the response is out (or the client gone), not when the last line is
      // queued: a stop cuts connections after this, and must not cut the last event with them.
      const release = streams.add({ end: (reason) => stop.abort(reason) });
      reply.raw.once('close', release);
      const iterator = events[Symbol.asyncIterator]();
      let fromOffset: number | undefined;
      try {
        for (;;) {
          const next = iterator.next();
          const step = await nextOrStop(next, stop.signal);
          if (step instanceof PaddockError) {
            // The producer is cut by the abort; its pending step is of no further use.
            next.catch(() => {});
            controller.abort(step);
            iterator.return?.().catch(() => {});
            const body = step.toBody();
            yield ndjsonLine({
              type: 'error',
              error: { ...body, details: { ...body.details, ...(fromOffset === undefined ? {} : { fromOffset }) } },
            });
            return;
          }
          if (step.done) return;
          fromOffset = offsetAfter(step.value) ?? fromOffset;
          yield ndjsonLine(step.value);
        }
      } finally {
        if (reply.raw.destroyed) release();
      }
    })(),
  );
  return reply.type('application/x-ndjson').header('cache-control', 'no-store').send(lines);
}

/**
 * `next`, or the stop's reason if the server stops first. Not `Promise.race` with a promise
 * that lives as long as the stream: each race would leave a reaction on it, one per event.
 */
function nextOrStop<T>(next: Promise<T>, stop: AbortSignal): Promise<T | PaddockError> {
  if (stop.aborted) return Promise.resolve(stop.reason as PaddockError);
  return new Promise((resolve, reject) => {
    const onStop = () => resolve(stop.reason as PaddockError);
    stop.addEventListener('abort', onStop, { once: true });
    next.then(
      (value) => {
        stop.removeEventListener('abort', onStop);
        resolve(value);
      },
      (err: unknown) => {
        stop.removeEventListener('abort', onStop);
        reject(err);
      },
    );
  });
}

/** The output offset after an output event (`offset` + base64 `data`), where a follower resumes. */
function offsetAfter(event: unknown): number | undefined {
  const { offset, data } = event as { offset?: unknown; data?: unknown };
  if (typeof offset !== 'number' || typeof data !== 'string') return undefined;
  return offset + Buffer.byteLength(data, 'base64');
}
