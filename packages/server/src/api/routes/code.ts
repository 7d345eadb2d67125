import {
  CodeContextRef,
  type CodeEvent,
  CreateCodeContextRequest,
  PaddockError,
  RunCodeRequest,
} from '@paddock/protocol';
import type { FastifyInstance } from 'fastify';
import { CodeClient } from '../../agent-client/code-client.js';
import type { ApiContext } from '../context.js';
import { sendNdjson } from '../ndjson-reply.js';
import { requestSignal } from '../request-signal.js';
import { parseOrThrow } from '../validate.js';

/** Relays a run's events; a failure (the sandbox lost under the cell, say) is the last event. */
async function* relay(events: AsyncIterable<CodeEvent>, signal: AbortSignal): AsyncGenerator<CodeEvent> {
  try {
    yield* events;
  } catch (err) {
    if (signal.aborted) return;
    const pe = err instanceof PaddockError ? err : new PaddockError('INTERNAL', 'code stream failed');
    yield { type: 'error', error: pe.toBody() };
  }
}

function contextIdOf(raw: string): string {
  return parseOrThrow(CodeContextRef, { contextId: raw }, 'context id').contextId;
}

/**
 * The code interpreter: cells run in stateful kernels inside the sandbox (the agent's
 * `/code/*` routes). Runs stream NDJSON `CodeEvent`s; contexts are plain JSON.
 */
export function codeRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const client = (sandboxId: string) => new CodeClient(ctx.agentOf(sandboxId));

  app.post<{ Params: { id: string } }>('/v1/sandboxes/:id/code', async (request, reply) => {
    const req = parseOrThrow(RunCodeRequest, request.body ?? {}, 'code request');
    const call = await ctx.commands.open(request.params.id);
    const code = new CodeClient(call.agent);
    const signal = requestSignal(reply);
    // The sandbox's env (create env, secret placeholders, CA trust) under the run's, as for commands.
    const run: RunCodeRequest = { ...req, env: call.env(req.env) };
    // Accepted by the agent before the 200: an unknown context answers with its status code.
    const res = await code.start(run, signal);
    return sendNdjson(reply, (streamSignal) => {
      const events = code.events(res, AbortSignal.any([signal, streamSignal]));
      // A cell's kernel runs beside the agent: an OOM there kills the sandbox under gVisor too.
      return relay(call.watch(events, streamSignal), streamSignal);
    });
  });

  app.get<{ Params: { id: string } }>('/v1/sandboxes/:id/code/contexts', async (request) =>
    client(request.params.id).listContexts(),
  );

  app.post<{ Params: { id: string } }>('/v1/sandboxes/:id/code/contexts', async (request, reply) => {
    const req = parseOrThrow(CreateCodeContextRequest, request.body ?? {}, 'code context');
    const created = await client(request.params.id).createContext(req);
    return reply.status(201).send(created);
  });

  app.post<{ Params: { id: string; contextId: string } }>(
    '/v1/sandboxes/:id/code/contexts/:contextId/restart',
    async (request) => client(request.params.id).restartContext(contextIdOf(request.params.contextId)),
  );

  app.delete<{ Params: { id: string; contextId: string } }>(
    '/v1/sandboxes/:id/code/contexts/:contextId',
    async (request, reply) => {
      await client(request.params.id).removeContext(contextIdOf(request.params.contextId));
      return reply.status(204).send();
    },
  );
}
