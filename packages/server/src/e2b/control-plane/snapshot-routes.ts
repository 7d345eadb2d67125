import { randomBytes } from 'node:crypto';
import { PaddockError } from '@paddock/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from '../../api/context.js';
import type { SnapshotRecord } from '../../core/seams/store.js';
import type { EnvdAccessTokens } from '../access-token.js';
import { liveSandbox, toE2bSandbox } from './e2b-sandbox.js';
import { E2bFork, E2bSnapshot, parseE2b, timeoutMsOf } from './requests.js';

type IdParams = { Params: { id: string } };

function toE2bSnapshot(s: SnapshotRecord) {
  return { snapshotID: s.name, names: [s.name] };
}

/** Fork and snapshots (gVisor forks; snapshots on both runtimes), mapped onto the pause and fork core. */
export function e2bSnapshotRoutes(app: FastifyInstance, deps: { ctx: ApiContext; tokens: EnvdAccessTokens }): void {
  const { ctx, tokens } = deps;
  const { forks, snapshots } = ctx.pauseAndFork;

  // One result per child; Paddock forks all or none, so a failure is the whole call's error.
  app.post<IdParams>('/sandboxes/:id/fork', async (request, reply) => {
    const { timeout, count } = parseE2b(E2bFork, request.body, 'fork');
    liveSandbox(ctx.service, request.params.id);
    let children = await forks.fork(request.params.id, { count: count ?? 1 });
    if (timeout !== undefined) children = children.map((c) => ctx.service.setTimeout(c.id, timeoutMsOf(timeout)));
    const view = { tokens, domain: ctx.ports.domain };
    return reply.status(201).send(children.map((c) => ({ sandbox: toE2bSandbox(c, view) })));
  });

  app.post<IdParams>('/sandboxes/:id/snapshots', async (request, reply) => {
    const { name } = parseE2b(E2bSnapshot, request.body, 'snapshot');
    liveSandbox(ctx.service, request.params.id);
    const snapshot = await snapshots.create(request.params.id, name ?? `snap-${randomBytes(6).toString('hex')}`);
    return reply.status(201).send(toE2bSnapshot(snapshot));
  });

  app.get(
    '/snapshots',
    async (request: FastifyRequest<{ Querystring: { sandboxID?: string; name?: string; limit?: string } }>) => {
      const { sandboxID, name } = request.query;
      return snapshots
        .list()
        .filter((s) => sandboxID === undefined || s.sandboxId === sandboxID)
        .filter((s) => name === undefined || s.name === name)
        .map(toE2bSnapshot);
    },
  );

  app.delete<IdParams>('/templates/:id', async (request, reply) => {
    if (!snapshots.list().some((s) => s.name === request.params.id)) {
      throw new PaddockError(
        'NOT_FOUND',
        `snapshot '${request.params.id}' not found (templates are deleted with DELETE /v1/templates/:name)`,
      );
    }
    await snapshots.delete(request.params.id);
    return reply.status(204).send();
  });
}
