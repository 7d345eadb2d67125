import { PaddockError, PortNumber, PortSettingsRequest, PortUrlRequest } from '@paddock/protocol';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { requestSignal } from '../request-signal.js';
import { parseOrThrow } from '../validate.js';

type PortParams = { Params: { id: string; port: string } };

/**
 * Exposed ports (docs/api.md, "Exposed ports"): preview URLs with tokens scoped to one port,
 * the public flag, and the list of listening ports. The traffic itself goes through
 * ports/port-proxy.ts, not through these routes.
 */
export function portRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const portOf = (raw: string): number => {
    const parsed = PortNumber.safeParse(raw);
    if (/^\d{1,5}$/.test(raw) && parsed.success) return parsed.data;
    throw new PaddockError('INVALID_ARGUMENT', `\`port\` must be an integer from 1 to 65535, got '${raw}'`, {
      fields: ['port'],
    });
  };

  app.post<PortParams>('/v1/sandboxes/:id/ports/:port/url', async (request) => {
    const port = portOf(request.params.port);
    const { expiresInMs } = parseOrThrow(PortUrlRequest, request.body ?? {}, 'port URL request');
    return ctx.ports.mintUrl(request.params.id, port, expiresInMs);
  });

  app.put<PortParams>('/v1/sandboxes/:id/ports/:port', async (request) => {
    const port = portOf(request.params.port);
    const settings = parseOrThrow(PortSettingsRequest, request.body ?? {}, 'port settings');
    return ctx.ports.setPublic(request.params.id, port, settings.public);
  });

  app.get<{ Params: { id: string } }>('/v1/sandboxes/:id/ports', async (request, reply) => ({
    ports: await ctx.ports.list(request.params.id, requestSignal(reply)),
  }));
}
