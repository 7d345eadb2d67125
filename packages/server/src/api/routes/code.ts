import {
  CodeContextRef,
  type CodeEvent,
  CreateCodeContextRequest,
  PaddockError,
  RunCodeRequest,
} from '@paddock/protocol';
import type { FastifyInstance } from 'fastify';
import { CodeClient } from '../../agent-client/code-client.js';
import { lostError, lostReason } from '../../core/reasons.js';
import type { ApiContext } from '../context.js';
import { sendNdjson } from '../ndjson-reply.js';
import { requestSignal } from '../request-signal.js';
import { parseOrThrow } from '../validate.js';

/** Relays a run's events; an agent that vanishes mid-cell becomes an `error` event naming why. */
async function* relay(
  ctx: ApiContext,
  sandboxId: string,
  events: AsyncIterable<CodeEvent>,
  signal: AbortSignal,
): AsyncGenerator<CodeEvent> {
  const record = ctx.service.requireRunning(sandboxId);
  const runtime = ctx.service.runtimeFor(record.isolation);
  const oomBefore = (await runtime.usage(sandboxId).catch(() => ({ oomKills: 0 }))).oomKills;
  try {
    yield* events;
  } catch (err) {
    if (signal.aborted) return;
    // Paused or hibernated on purpose (the host ended the stream): not lost, say so.
    if (err instanceof PaddockError && err.code === 'SANDBOX_PAUSED') {
      yield { type: 'error', error: err.toBody() };
      return;
    }
    const state = await runtime.state(sandboxId);
    if (state !== 'running') {
      // A cell's kernel runs beside the agent: an OOM there kills the sandbox under gVisor too.
      const kills = (await runtime.usage(sandboxId).catch(() => ({ oomKills: 0 }))).oomKills - oomBefore;
      const oom = kills > 0 ? { kills, limitMiB: ctx.service.get(sandboxId).memoryMiB } : undefined;
      const reason = lostReason(state, oom);
      ctx.service.markLost(sandboxId, reason);
      yield { type: 'error', error: lostError(sandboxId, reason) };
      return;
    }
    const pe =
      err instanceof PaddockError ? err : new PaddockError('INTERNAL', 'code stream failed', undefined, { cause: err });
    if (pe.code === 'INTERNAL') ctx.logger.error({ err, sandboxId }, 'code stream failed');
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
  const client = (sandboxId: string) => {
    ctx.service.requireRunning(sandboxId);
    return new CodeClient(ctx.agentOf(sandboxId));
  };

  app.post<{ Params: { id: string } }>('/v1/sandboxes/:id/code', async (request, reply) => {
    const req = parseOrThrow(RunCodeRequest, request.body ?? {}, 'code request');
    const record = ctx.service.requireRunning(request.params.id);
    const code = client(request.params.id);
    const signal = requestSignal(reply);
    // The sandbox's env (create env, secret placeholders, CA trust) under the run's, as for commands.
    const run: RunCodeRequest = { ...req, env: { ...record.env, ...req.env } };
    // Accepted by the agent before the 200: an unknown context answers with its status code.
    const res = await code.start(run, signal);
    return sendNdjson(reply, (streamSignal) =>
      relay(ctx, request.params.id, code.events(res, AbortSignal.any([signal, streamSignal])), streamSignal),
    );
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
