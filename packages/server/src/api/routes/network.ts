import { type NetworkStatus, PaddockError, UpdateNetworkRequest } from '@paddock/protocol';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { parseOrThrow } from '../validate.js';

/** A sandbox's network: `GET /v1/sandboxes/:id/network` (policy, address, denied attempts), `PUT` (live change). */
export function networkRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const statusOf = async (id: string): Promise<NetworkStatus> => {
    const networks = ctx.networks;
    if (!networks) throw new PaddockError('NOT_FOUND', 'this server runs sandboxes without networking');
    const status = await networks.status(id);
    if (!status) throw new PaddockError('NOT_FOUND', `sandbox '${id}' has no network`, { sandboxId: id });
    return status;
  };

  app.get<{ Params: { id: string } }>('/v1/sandboxes/:id/network', async (request) => {
    const record = ctx.service.get(request.params.id);
    return statusOf(record.id);
  });

  app.put<{ Params: { id: string } }>('/v1/sandboxes/:id/network', async (request) => {
    const change = parseOrThrow(UpdateNetworkRequest, request.body ?? {}, 'network update');
    if (change.egress === undefined && change.allow === undefined) {
      throw new PaddockError('INVALID_ARGUMENT', 'invalid network update: give `egress`, `allow` or both', {
        fields: ['egress', 'allow'],
      });
    }
    const record = ctx.service.requireRunning(request.params.id);
    if (!ctx.networks) throw new PaddockError('NOT_FOUND', 'this server runs sandboxes without networking');
    await ctx.networks.update(record.id, change);
    return statusOf(record.id);
  });
}
