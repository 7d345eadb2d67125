import { CreateVolumeRequest, type VolumeInfo } from '@paddock/protocol';
import type { FastifyInstance } from 'fastify';
import type { VolumeRecord } from '../../core/seams/store.js';
import type { ApiContext } from '../context.js';
import { parseOrThrow } from '../validate.js';

/** Named persistent volumes: `POST/GET /v1/volumes`, `GET/DELETE /v1/volumes/:name`. */
export function volumeRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { volumes } = ctx.pauseAndFork;
  const info = (v: VolumeRecord): VolumeInfo => ({
    name: v.name,
    sizeMiB: v.sizeMiB,
    createdAt: new Date(v.createdAtMs).toISOString(),
    usedBy: volumes.usedBy(v.name),
  });

  app.post('/v1/volumes', async (request, reply) => {
    const req = parseOrThrow(CreateVolumeRequest, request.body ?? {}, 'volume create request');
    return reply.status(201).send(info(await volumes.create(req)));
  });

  app.get('/v1/volumes', async () => ({ volumes: volumes.list().map(info) }));

  app.get<{ Params: { name: string } }>('/v1/volumes/:name', async (request) => info(volumes.get(request.params.name)));

  app.delete<{ Params: { name: string } }>('/v1/volumes/:name', async (request, reply) => {
    await volumes.delete(request.params.name);
    return reply.status(204).send();
  });
}
