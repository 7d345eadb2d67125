import {
  CreateSandboxRequest,
  PaddockError,
  type SandboxCapabilities,
  type SandboxInfo,
  SandboxState,
  SetTimeoutRequest,
} from '@paddock/protocol';
import type { FastifyInstance } from 'fastify';
import type { SandboxRecord } from '../../core/seams/store.js';
import type { ApiContext } from '../context.js';
import { requestSignal } from '../request-signal.js';
import { parseOrThrow } from '../validate.js';

export function toSandboxInfo(r: SandboxRecord, capabilities?: SandboxCapabilities): SandboxInfo {
  const info: SandboxInfo = {
    id: r.id,
    template: r.template,
    isolation: r.isolation,
    state: r.state,
    createdAt: new Date(r.createdAtMs).toISOString(),
    expiresAt: new Date(r.expiresAtMs ?? r.createdAtMs).toISOString(),
    memoryMiB: r.memoryMiB,
    cpus: r.cpus,
    diskMiB: r.diskMiB,
    pids: r.pids,
    metadata: r.metadata,
  };
  if (r.reason) info.reason = r.reason;
  if (r.reasonCode) info.reasonCode = r.reasonCode;
  Object.assign(info, {
    onTimeout: r.onTimeout,
    autoResume: r.autoResume,
    retentionMs: r.retentionMs,
    volumes: r.volumes,
    ...(capabilities ? { capabilities } : {}),
    ...(r.processesRestarted ? { processesRestarted: true } : {}),
  });
  return info;
}

/** SandboxInfo with what its isolation supports. */
export function sandboxInfo(ctx: ApiContext, r: SandboxRecord): SandboxInfo {
  const runtime = ctx.service.runtimeFor.bind(ctx.service);
  let capabilities: SandboxCapabilities | undefined;
  try {
    runtime(r.isolation);
    capabilities = ctx.service.capabilitiesOf(r);
  } catch {
    capabilities = undefined; // an isolation this server no longer offers
  }
  const info = toSandboxInfo(r, capabilities);
  const secrets = ctx.secrets?.infoOf(r.id) ?? [];
  const network = ctx.networks?.info(r.id);
  return { ...info, ...(secrets.length > 0 ? { secrets } : {}), ...(network ? { network } : {}) };
}

/** `?state=running,killed&metadata.agent=a1` → filter. */
function listFilter(query: Record<string, string | string[] | undefined>) {
  const metadata: Record<string, string> = {};
  let states: SandboxState[] | undefined;
  for (const [key, raw] of Object.entries(query)) {
    const value = Array.isArray(raw) ? raw.at(-1) : raw;
    if (value === undefined) continue;
    if (key === 'state') {
      states = value.split(',').map((s) => {
        const parsed = SandboxState.safeParse(s);
        if (!parsed.success) {
          throw new PaddockError('INVALID_ARGUMENT', `state: '${s}' is not one of ${SandboxState.options.join(', ')}`);
        }
        return parsed.data;
      });
    } else if (key.startsWith('metadata.')) {
      metadata[key.slice('metadata.'.length)] = value;
    } else {
      throw new PaddockError('INVALID_ARGUMENT', `unknown query parameter '${key}' (use state= or metadata.KEY=)`);
    }
  }
  return { ...(states ? { states } : {}), metadata };
}

export function sandboxRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const toSandboxInfo = (r: SandboxRecord) => sandboxInfo(ctx, r);
  app.post('/v1/sandboxes', async (request, reply) => {
    const req = parseOrThrow(CreateSandboxRequest, request.body ?? {}, 'sandbox create request');
    // Core runs the whole create (secrets, network, runtime) and undoes it on failure or abort.
    const record = await ctx.service.create(req, requestSignal(reply));
    return reply.status(201).send(toSandboxInfo(record));
  });

  app.get('/v1/sandboxes', async (request) => {
    const filter = listFilter(request.query as Record<string, string>);
    return { sandboxes: ctx.service.list(filter).map(toSandboxInfo) };
  });

  app.get<{ Params: { id: string } }>('/v1/sandboxes/:id', async (request) =>
    toSandboxInfo(ctx.service.get(request.params.id)),
  );

  app.delete<{ Params: { id: string } }>('/v1/sandboxes/:id', async (request, reply) => {
    ctx.service.get(request.params.id);
    await ctx.service.kill(request.params.id, { code: 'api', message: 'killed by the API' });
    return reply.status(204).send();
  });

  app.post<{ Params: { id: string } }>('/v1/sandboxes/:id/timeout', async (request) => {
    const { timeoutMs } = parseOrThrow(SetTimeoutRequest, request.body ?? {}, 'timeout request');
    return toSandboxInfo(ctx.service.setTimeout(request.params.id, timeoutMs));
  });
}
