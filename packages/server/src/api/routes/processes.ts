import {
  PaddockError,
  type ProcessEvent,
  ProcessStdinRequest,
  SignalProcessRequest,
  StartProcessRequest,
} from '@paddock/protocol';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { sendNdjson } from '../ndjson-reply.js';
import { requestSignal } from '../request-signal.js';
import { parseOrThrow } from '../validate.js';

type ProcessParams = { Params: { id: string; pid: string } };

/** Relays a call's events; a broken stream ends with an `error` event (the answer is already 200). */
async function* relay(events: AsyncIterable<ProcessEvent>, signal: AbortSignal): AsyncGenerator<ProcessEvent> {
  try {
    yield* events;
  } catch (err) {
    if (signal.aborted) return;
    const pe = err instanceof PaddockError ? err : new PaddockError('INTERNAL', 'process stream failed');
    yield { type: 'error', error: pe.toBody() };
  }
}

/**
 * Durable processes (docs/api.md, "Processes"): the agent inside the sandbox owns them, so
 * they outlive client connections and server restarts. What a process gets (env, OOM, the
 * lost verdict) is the command owner's (core/commands.ts); these routes only relay.
 */
export function processRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const base = '/v1/sandboxes/:id/processes';

  app.post<{ Params: { id: string } }>(base, async (request, reply) => {
    const req = parseOrThrow(StartProcessRequest, request.body ?? {}, 'process request');
    const call = await ctx.commands.open(request.params.id);
    const signal = requestSignal(reply);
    if (req.background === true && req.follow !== true) {
      // A follower, as the process is: a pause does not fail a start under way.
      const info = await call.agent.processes.start({ ...req, env: call.env(req.env) }, { signal, follower: true });
      return reply.status(201).send(info);
    }
    // Foreground: closing this stream closes the agent's, which kills the process tree; a
    // followed background process outlives it, and a pause leaves its stream open.
    const events = await ctx.commands.stream(call, req, { signal, follower: req.background === true });
    return sendNdjson(reply, () => relay(events, signal));
  });

  app.get<{ Params: { id: string } }>(base, async (request) => ctx.agentOf(request.params.id).processes.list());

  app.get<ProcessParams>(`${base}/:pid`, async (request) =>
    ctx.agentOf(request.params.id).processes.info(request.params.pid),
  );

  app.get<ProcessParams & { Querystring: { fromOffset?: string } }>(`${base}/:pid/events`, async (request, reply) => {
    const call = await ctx.commands.open(request.params.id);
    const signal = requestSignal(reply);
    const events = await call.agent.processes.events(request.params.pid, request.query.fromOffset, { signal });
    return sendNdjson(reply, () => relay(call.watch(events, signal), signal));
  });

  app.post<ProcessParams & { Querystring: { eof?: string } }>(`${base}/:pid/stdin`, async (request, reply) => {
    const processes = ctx.agentOf(request.params.id).processes;
    const body = request.body as unknown;
    if (body !== null && typeof (body as NodeJS.ReadableStream)?.pipe === 'function') {
      await processes.pipeStdin(request.params.pid, body as NodeJS.ReadableStream, request.query.eof);
    } else {
      await processes.writeStdin(request.params.pid, parseOrThrow(ProcessStdinRequest, body ?? {}, 'stdin request'));
    }
    return reply.status(204).send();
  });

  app.post<ProcessParams>(`${base}/:pid/signal`, async (request) => {
    const req = parseOrThrow(SignalProcessRequest, request.body ?? {}, 'signal request');
    return ctx.agentOf(request.params.id).processes.signal(request.params.pid, req);
  });
}
