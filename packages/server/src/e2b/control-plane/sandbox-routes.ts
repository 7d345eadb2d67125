import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from '../../api/context.js';
import { requestSignal } from '../../api/request-signal.js';
import { PAUSED_STATES } from '../../core/sandbox-service.js';
import type { EnvdAccessTokens } from '../access-token.js';
import { type E2bView, liveSandbox, toE2bDetail, toE2bSandbox } from './e2b-sandbox.js';
import { type E2bListQuery, listPage } from './list-query.js';
import type { E2bMetrics } from './metrics.js';
import { toNetworkUpdate } from './network-options.js';
import {
  E2bConnect,
  E2bNetworkUpdate,
  E2bNewSandbox,
  E2bPause,
  E2bRefresh,
  E2bTimeout,
  parseE2b,
  timeoutMsOf,
  toCreateRequest,
} from './requests.js';

type IdParams = { Params: { id: string } };

/** The control-plane sandbox routes of docs/e2b-protocol.md §2.2, over the same core as /v1. */
export function e2bSandboxRoutes(
  app: FastifyInstance,
  deps: { ctx: ApiContext; tokens: EnvdAccessTokens; metrics: E2bMetrics },
): void {
  const { ctx, tokens, metrics } = deps;
  const { service } = ctx;
  const { pause: states } = ctx.pauseAndFork;
  // One domain for both APIs: getHost(port) gives the exposed-port proxy's `{port}-{id}.{domain}`.
  const view = (): E2bView => ({ tokens, domain: ctx.ports.domain });

  const create = async (request: FastifyRequest, reply: FastifyReply) => {
    const body = parseE2b(E2bNewSandbox, request.body, 'sandbox create');
    const record = await service.create(toCreateRequest(body), requestSignal(reply));
    // E2B serves every sandbox port without a token unless `allowPublicTraffic: false`.
    if (body.network?.allowPublicTraffic !== false) ctx.ports.setAllPublic(record.id, true);
    return reply.status(201).send(toE2bSandbox(record, view()));
  };
  app.post('/v2/sandboxes', create);
  app.post('/sandboxes', create);

  /** Connect: resumes a paused sandbox (201) or extends a running one's timeout (200; never shortens). */
  const connect = async (request: FastifyRequest<IdParams>, reply: FastifyReply) => {
    const { timeout } = parseE2b(E2bConnect, request.body, 'connect');
    const record = liveSandbox(service, request.params.id);
    const wasPaused = PAUSED_STATES.includes(record.state);
    let current = wasPaused ? await states.resume(record.id, requestSignal(reply)) : record;
    if (timeout !== undefined && current.state === 'running') {
      const wantedMs = timeoutMsOf(timeout);
      if (Date.now() + wantedMs > (current.expiresAtMs ?? 0) || wasPaused) {
        current = service.setTimeout(record.id, wantedMs);
      }
    }
    return reply.status(wasPaused ? 201 : 200).send(toE2bSandbox(current, view()));
  };
  app.post<IdParams>('/v2/sandboxes/:id/connect', connect);
  app.post<IdParams>('/sandboxes/:id/connect', connect);

  // Legacy resume (no SDK calls it any more): 409 when the sandbox is not paused.
  app.post<IdParams>('/sandboxes/:id/resume', async (request, reply) => {
    const { timeout } = parseE2b(E2bConnect, request.body, 'resume');
    const record = liveSandbox(service, request.params.id);
    if (!PAUSED_STATES.includes(record.state)) {
      return reply.status(409).send({ code: 409, message: `sandbox '${record.id}' is not paused` });
    }
    let current = await states.resume(record.id, requestSignal(reply));
    if (timeout !== undefined) current = service.setTimeout(record.id, timeoutMsOf(timeout));
    return reply.status(201).send(toE2bSandbox(current, view()));
  });

  const list = async (request: FastifyRequest<{ Querystring: E2bListQuery }>, reply: FastifyReply) => {
    const all = service.list();
    const { page, nextToken } = listPage(all, request.query);
    if (nextToken !== undefined) void reply.header('X-Next-Token', nextToken);
    void reply.header('X-Total-Running', String(all.filter((r) => r.state === 'running').length));
    return page.map((r) => toE2bDetail(r, view()));
  };
  app.get<{ Querystring: E2bListQuery }>('/v2/sandboxes', list);
  app.get<{ Querystring: E2bListQuery }>('/sandboxes', list);

  app.get<IdParams>('/sandboxes/:id', async (request) => toE2bDetail(liveSandbox(service, request.params.id), view()));

  app.delete<IdParams>('/sandboxes/:id', async (request, reply) => {
    liveSandbox(service, request.params.id);
    await service.kill(request.params.id, { code: 'api', message: 'killed through the E2B API' });
    return reply.status(204).send();
  });

  app.post<IdParams>('/sandboxes/:id/timeout', async (request, reply) => {
    const { timeout } = parseE2b(E2bTimeout, request.body, 'set timeout');
    liveSandbox(service, request.params.id);
    service.setTimeout(request.params.id, timeoutMsOf(timeout));
    return reply.status(204).send();
  });

  // Extends (never shortens) the timeout by `duration` seconds from now.
  app.post<IdParams>('/sandboxes/:id/refreshes', async (request, reply) => {
    const { duration } = parseE2b(E2bRefresh, request.body, 'refresh');
    const record = liveSandbox(service, request.params.id);
    const wantedMs = timeoutMsOf(duration ?? 60);
    if (Date.now() + wantedMs > (record.expiresAtMs ?? 0)) service.setTimeout(record.id, wantedMs);
    return reply.status(204).send();
  });

  // `memory: false` hibernates keeping only the filesystem (processes restart on connect);
  // otherwise the sandbox is frozen in RAM. Already paused → 409, which the SDK reads as false.
  app.post<IdParams>('/sandboxes/:id/pause', async (request, reply) => {
    const { memory } = parseE2b(E2bPause, request.body, 'pause');
    const record = liveSandbox(service, request.params.id);
    if (PAUSED_STATES.includes(record.state)) {
      return reply.status(409).send({ code: 409, message: `sandbox '${record.id}' is already paused` });
    }
    if (memory === false) await states.hibernate(record.id, false, requestSignal(reply));
    else await states.pause(record.id, requestSignal(reply));
    return reply.status(204).send();
  });

  // Replaces the egress policy live (see network-options.ts for the mapping).
  app.put<IdParams>('/sandboxes/:id/network', async (request, reply) => {
    const body = parseE2b(E2bNetworkUpdate, request.body, 'network update');
    const change = toNetworkUpdate(body.allow_internet_access, body);
    const record = liveSandbox(service, request.params.id);
    if (!ctx.networks) {
      return reply
        .status(400)
        .send({ code: 400, message: 'network: this Paddock server runs sandboxes without networking' });
    }
    await ctx.networks.update(service.requireRunning(record.id).id, change, requestSignal(reply));
    return reply.status(204).send();
  });

  app.get<IdParams>('/sandboxes/:id/metrics', async (request) => {
    const record = liveSandbox(service, request.params.id);
    return [await metrics.sample(record)];
  });

  app.get<IdParams>('/sandboxes/:id/logs', async (request) => {
    liveSandbox(service, request.params.id);
    return { logs: [] };
  });
}
