import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../../api/context.js';
import type { EnvdAccessTokens } from '../access-token.js';
import type { E2bTemplateBuilder } from '../template-builder/index.js';
import { installE2bErrorHandler } from './e2b-errors.js';
import { type CpuUsageNs, E2bMetrics } from './metrics.js';
import { e2bSandboxRoutes } from './sandbox-routes.js';
import { e2bSnapshotRoutes } from './snapshot-routes.js';

/** Paths of the E2B control plane (for the auth hook's error shape). */
export const E2B_CONTROL_PATH = /^\/(?:v[23]\/)?(?:sandboxes|snapshots|templates(?:[/?]|$))/;

/** The auth hook's answer on an E2B control path: E2B SDKs read `{code: <status>, message}` (e2b-errors.ts). */
export function e2bUnauthenticatedReply(url: string): { status: number; body: unknown } | undefined {
  if (!E2B_CONTROL_PATH.test(url)) return undefined;
  return { status: 401, body: { code: 401, message: 'the API key is missing or not valid: check E2B_API_KEY' } };
}

/**
 * The E2B control plane as an encapsulated fastify plugin on our own port: its own error
 * shape (`{code: status, message}`), the same service, pause layer and auth as /v1.
 */
export function e2bControlPlane(
  app: FastifyInstance,
  deps: {
    ctx: ApiContext;
    tokens: EnvdAccessTokens;
    templateBuilder: E2bTemplateBuilder;
    cpuUsageNs?: CpuUsageNs | undefined;
  },
): void {
  void app.register(async (scope) => {
    installE2bErrorHandler(scope, deps.ctx.logger);
    const metrics = new E2bMetrics(deps.ctx, deps.cpuUsageNs);
    e2bSandboxRoutes(scope, { ctx: deps.ctx, tokens: deps.tokens, metrics });
    e2bSnapshotRoutes(scope, { ctx: deps.ctx, tokens: deps.tokens });
    deps.templateBuilder.routes(scope);
  });
}
