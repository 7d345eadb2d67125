import type { Readable } from 'node:stream';
import { CreatePtyRequest, PaddockError, PTY_LIMITS, PtyOutputQuery, PtySize } from '@paddock/protocol';
import type { FastifyInstance } from 'fastify';
import { AgentPtyClient } from '../../agent-client/pty-client.js';
import type { ApiContext } from '../context.js';
import { parseOrThrow } from '../validate.js';

type PtyParams = { Params: { id: string; ptyId: string } };

/**
 * Terminal routes: sessions live in the sandbox's agent, so they outlive the client's
 * connection and this server's restarts; these routes only relay. Output streams through
 * unparsed; closing it detaches, it never kills the program.
 */
export function ptyRoutes(app: FastifyInstance, ctx: ApiContext): void {
  // Input is raw bytes; the file routes may have registered the same parser already.
  if (!app.hasContentTypeParser('application/octet-stream')) {
    app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
  }
  const ptyOf = (sandboxId: string) => new AgentPtyClient(ctx.agentOf(sandboxId));

  app.post<{ Params: { id: string } }>('/v1/sandboxes/:id/pty', async (request, reply) => {
    const req = parseOrThrow(CreatePtyRequest, request.body ?? {}, 'pty request');
    const call = await ctx.commands.open(request.params.id);
    const created = await new AgentPtyClient(call.agent).create({ ...req, env: call.env(req.env) });
    return reply.status(201).send(created);
  });

  app.get<{ Params: { id: string } }>('/v1/sandboxes/:id/pty', async (request) => ptyOf(request.params.id).list());

  app.get<PtyParams>('/v1/sandboxes/:id/pty/:ptyId/output', async (request, reply) => {
    const { fromOffset } = parseOrThrow(PtyOutputQuery, request.query ?? {}, 'output query');
    const stream = await ptyOf(request.params.id).outputStream(request.params.ptyId, fromOffset);
    // A client that goes away detaches: the agent stream is closed, without an error to log.
    reply.raw.once('close', () => stream.destroy());
    return reply.type('application/x-ndjson').header('cache-control', 'no-store').send(stream);
  });

  app.post<PtyParams>('/v1/sandboxes/:id/pty/:ptyId/input', async (request, reply) => {
    const data = await readInput(request.body);
    await ptyOf(request.params.id).input(request.params.ptyId, data);
    return reply.status(204).send();
  });

  app.post<PtyParams>('/v1/sandboxes/:id/pty/:ptyId/resize', async (request, reply) => {
    const size = parseOrThrow(PtySize, request.body ?? {}, 'resize request');
    await ptyOf(request.params.id).resize(request.params.ptyId, size);
    return reply.status(204).send();
  });

  app.post<PtyParams>('/v1/sandboxes/:id/pty/:ptyId/kill', async (request, reply) => {
    await ptyOf(request.params.id).kill(request.params.ptyId);
    return reply.status(204).send();
  });
}

/** The raw input bytes, bounded: keystrokes and pastes, not uploads. */
async function readInput(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null || typeof (body as Readable).pipe !== 'function') {
    throw new PaddockError(
      'INVALID_ARGUMENT',
      'send the input bytes as the body with content-type application/octet-stream',
      { field: 'body' },
    );
  }
  const chunks: Buffer[] = [];
  let sizeBytes = 0;
  const stream = body as Readable;
  // Not destroyed on an early exit: the rest is drained so the client still reads the 413.
  for await (const chunk of stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    sizeBytes += chunk.length;
    if (sizeBytes > PTY_LIMITS.inputBytes) {
      stream.resume();
      throw new PaddockError('PAYLOAD_TOO_LARGE', `PTY input is limited to ${PTY_LIMITS.inputBytes} bytes per call`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
