import type { IncomingMessage } from 'node:http';
import {
  PaddockError,
  ProcessEvent,
  ProcessInfo,
  ProcessList,
  ProcessStdinRequest,
  parseNdjson,
  SignalProcessRequest,
  StartProcessRequest,
} from '@paddock/protocol';
import type { FastifyInstance } from 'fastify';
import { readJsonBody } from '../../agent-client/transport.js';
import type { ApiContext } from '../context.js';
import { sendNdjson } from '../ndjson-reply.js';
import { requestSignal } from '../request-signal.js';
import { parseOrThrow } from '../validate.js';

type ProcessParams = { Params: { id: string; pid: string } };

/** Relays an agent's event stream, parsed at the boundary; a broken one ends with an `error` event. */
async function* relay(res: IncomingMessage, signal: AbortSignal): AsyncGenerator<ProcessEvent> {
  try {
    for await (const value of parseNdjson(res)) yield ProcessEvent.parse(value);
  } catch (err) {
    if (signal.aborted) return;
    const pe =
      err instanceof PaddockError
        ? err
        : new PaddockError('UNAVAILABLE', 'the sandbox agent closed the process stream before the process exited');
    yield { type: 'error', error: pe.toBody() };
  }
}

/**
 * Durable processes (docs/api.md, "Processes"): the agent inside the sandbox owns them, so
 * they outlive client connections and server restarts; these routes only relay.
 */
export function processRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const base = '/v1/sandboxes/:id/processes';
  const agentPath = (pid: string, rest = '') => `/processes/${encodeURIComponent(pid)}${rest}`;

  app.post<{ Params: { id: string } }>(base, async (request, reply) => {
    const req = parseOrThrow(StartProcessRequest, request.body ?? {}, 'process request');
    const record = ctx.service.requireRunning(request.params.id);
    // The sandbox's env goes under the command's, as for `POST …/commands`.
    const merged: StartProcessRequest = { ...req, env: { ...record.env, ...req.env } };
    const signal = requestSignal(reply);
    // A background process's stream is a follower: a pause leaves it open (AgentClient.interrupt).
    const res = await ctx.agentOf(request.params.id).raw({
      method: 'POST',
      path: '/processes',
      json: merged,
      signal,
      follower: req.background === true,
    });
    if (req.background === true && req.follow !== true) {
      return reply.status(201).send(ProcessInfo.parse(await readJsonBody(res)));
    }
    // Foreground: closing this stream closes the agent's, which kills the process tree;
    // a followed background process outlives it.
    return sendNdjson(reply, () => relay(res, signal));
  });

  app.get<{ Params: { id: string } }>(base, async (request) => {
    ctx.service.requireRunning(request.params.id);
    const res = await ctx.agentOf(request.params.id).raw({ method: 'GET', path: '/processes' });
    return ProcessList.parse(await readJsonBody(res));
  });

  app.get<ProcessParams>(`${base}/:pid`, async (request) => {
    ctx.service.requireRunning(request.params.id);
    const res = await ctx.agentOf(request.params.id).raw({ method: 'GET', path: agentPath(request.params.pid) });
    return ProcessInfo.parse(await readJsonBody(res));
  });

  app.get<ProcessParams & { Querystring: { fromOffset?: string } }>(`${base}/:pid/events`, async (request, reply) => {
    ctx.service.requireRunning(request.params.id);
    const { fromOffset } = request.query;
    const signal = requestSignal(reply);
    const res = await ctx.agentOf(request.params.id).raw({
      method: 'GET',
      path: agentPath(request.params.pid, '/events'),
      query: { fromOffset },
      signal,
      follower: true,
    });
    return sendNdjson(reply, () => relay(res, signal));
  });

  app.post<ProcessParams & { Querystring: { eof?: string } }>(`${base}/:pid/stdin`, async (request, reply) => {
    ctx.service.requireRunning(request.params.id);
    const agent = ctx.agentOf(request.params.id);
    const path = agentPath(request.params.pid, '/stdin');
    const body = request.body as unknown;
    const res =
      body !== null && typeof (body as NodeJS.ReadableStream)?.pipe === 'function'
        ? await agent.raw({
            method: 'POST',
            path,
            query: { eof: request.query.eof },
            body: body as NodeJS.ReadableStream,
          })
        : await agent.raw({
            method: 'POST',
            path,
            json: parseOrThrow(ProcessStdinRequest, body ?? {}, 'stdin request'),
          });
    res.resume();
    return reply.status(204).send();
  });

  app.post<ProcessParams>(`${base}/:pid/signal`, async (request) => {
    const req = parseOrThrow(SignalProcessRequest, request.body ?? {}, 'signal request');
    ctx.service.requireRunning(request.params.id);
    const res = await ctx
      .agentOf(request.params.id)
      .raw({ method: 'POST', path: agentPath(request.params.pid, '/signal'), json: req });
    return ProcessInfo.parse(await readJsonBody(res));
  });
}
