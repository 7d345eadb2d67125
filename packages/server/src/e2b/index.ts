import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.js';
import type { Store } from '../core/seams/store.js';
import type { SandboxTrafficRouter } from '../ports/sandbox-traffic.js';
import { EnvdAccessTokens } from './access-token.js';
import { registerE2bCodeInterpreter } from './code-interpreter/index.js';
import { e2bControlPlane } from './control-plane/index.js';
import type { CpuUsageNs } from './control-plane/metrics.js';
import { ENVD_PORT, EnvdHandler } from './envd/envd-handler.js';
import { E2bTemplateBuilder, type PlanExecutor } from './template-builder/index.js';

export { EnvdAccessTokens } from './access-token.js';
export { e2bUnauthenticatedReply } from './control-plane/index.js';

/** What the facade gives back to the HTTP server. */
export interface E2bFacade {
  /** The envd access tokens (the code-interpreter port checks `X-Access-Token` with them). */
  tokens: EnvdAccessTokens;
  /**
   * Takes a request that carries its own credential instead of an API key: a signed `/files`
   * URL that names no sandbox (see EnvdHandler), or a template upload URL; true when handled.
   */
  routeSignedFiles: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export interface E2bFacadeOptions {
  app: FastifyInstance;
  ctx: ApiContext;
  store: Store;
  /** Sandbox traffic router: envd (port 49983) is registered on it. */
  sandboxTraffic: SandboxTrafficRouter;
  /** CPU time of a sandbox, for metrics (optional). */
  cpuUsageNs?: CpuUsageNs | undefined;
  /** Builds E2B template plans (default: the template registry). */
  planExecutor?: PlanExecutor;
}

/**
 * The E2B-compatible facade (issue 8, docs/e2b-protocol.md): the control plane as routes of our
 * API and envd as the handler of in-sandbox port 49983, both over the same core.
 */
export function installE2bFacade(options: E2bFacadeOptions): E2bFacade {
  const tokens = new EnvdAccessTokens(options.store);
  const templateBuilder = new E2bTemplateBuilder({
    templates: options.ctx.templates,
    executor: options.planExecutor ?? options.ctx.templates,
    store: options.store,
    logger: options.ctx.logger,
  });
  e2bControlPlane(options.app, { ctx: options.ctx, tokens, templateBuilder, cpuUsageNs: options.cpuUsageNs });
  const envd = new EnvdHandler(options.ctx, tokens);
  options.app.addHook('preClose', async () => {
    envd.close();
    await templateBuilder.close();
  });
  options.sandboxTraffic.registerPort(ENVD_PORT, envd);
  registerE2bCodeInterpreter(options.sandboxTraffic, { ctx: options.ctx, accessTokens: tokens });
  return {
    tokens,
    routeSignedFiles: (req, res) => envd.routeSignedFiles(req, res) || templateBuilder.routeUpload(req, res),
  };
}
