import { ForkRequest, HibernateRequest, PaddockError, type SnapshotInfo, SnapshotRequest } from '@paddock/protocol';
import type { FastifyInstance } from 'fastify';
import type { SnapshotRecord } from '../../core/seams/store.js';
import type { ApiContext } from '../context.js';
import { requestSignal } from '../request-signal.js';
import { parseOrThrow } from '../validate.js';
import { sandboxInfo } from './sandboxes.js';

/** Sub-routes of a sandbox that manage its state (everything else under it needs it running). */
const STATE_ROUTES = new Set(['pause', 'resume', 'hibernate', 'snapshot', 'fork', 'timeout']);
const SANDBOX_SUBROUTE = /^\/v1\/sandboxes\/:id\/([a-z-]+)/;

function toSnapshotInfo(s: SnapshotRecord): SnapshotInfo {
  return {
    name: s.name,
    sandboxId: s.sandboxId,
    baseTemplate: s.baseTemplate,
    sizeBytes: s.sizeBytes,
    createdAt: new Date(s.createdAtMs).toISOString(),
  };
}

/**
 * Pause, resume, hibernate, snapshot and fork. A hook before every other sandbox sub-route
 * (commands, files, processes, …) resumes a paused or hibernated sandbox created with
 * `autoResume`, or fails with SANDBOX_PAUSED, before the route reaches the agent.
 */
export function pauseForkRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { pause: states, snapshots, forks } = ctx.pauseAndFork;

  app.addHook('preHandler', async (request, reply) => {
    const sub = SANDBOX_SUBROUTE.exec(request.routeOptions.url ?? '')?.[1];
    if (sub === undefined || STATE_ROUTES.has(sub)) return;
    const id = (request.params as { id?: string }).id;
    if (id !== undefined) await states.ensureRunning(id, requestSignal(reply));
  });

  app.post<{ Params: { id: string } }>('/v1/sandboxes/:id/pause', async (request, reply) =>
    sandboxInfo(ctx, await states.pause(request.params.id, requestSignal(reply))),
  );

  app.post<{ Params: { id: string } }>('/v1/sandboxes/:id/resume', async (request, reply) =>
    sandboxInfo(ctx, await states.resume(request.params.id, requestSignal(reply))),
  );

  app.post<{ Params: { id: string } }>('/v1/sandboxes/:id/hibernate', async (request, reply) => {
    const { keepMemory } = parseOrThrow(HibernateRequest, request.body ?? {}, 'hibernate request');
    return sandboxInfo(ctx, await states.hibernate(request.params.id, keepMemory, requestSignal(reply)));
  });

  app.post<{ Params: { id: string } }>('/v1/sandboxes/:id/snapshot', async (request, reply) => {
    const { name } = parseOrThrow(SnapshotRequest, request.body ?? {}, 'snapshot request');
    const snapshot = await snapshots.create(request.params.id, name, requestSignal(reply));
    return reply.status(201).send(toSnapshotInfo(snapshot));
  });

  app.post<{ Params: { id: string } }>('/v1/sandboxes/:id/fork', async (request, reply) => {
    const req = parseOrThrow(ForkRequest, request.body ?? {}, 'fork request');
    const children = await forks.fork(request.params.id, req, requestSignal(reply));
    return reply.status(201).send({ sandboxes: children.map((c) => sandboxInfo(ctx, c)) });
  });

  app.get('/v1/snapshots', async () => ({ snapshots: snapshots.list().map(toSnapshotInfo) }));

  app.delete<{ Params: { name: string } }>('/v1/snapshots/:name', async (request, reply) => {
    await snapshots.delete(request.params.name);
    return reply.status(204).send();
  });

  app.get<{ Params: { name: string } }>('/v1/snapshots/:name', async (request) => {
    const found = snapshots.list().find((s) => s.name === request.params.name);
    if (!found) throw new PaddockError('NOT_FOUND', `snapshot '${request.params.name}' does not exist`);
    return toSnapshotInfo(found);
  });
}
