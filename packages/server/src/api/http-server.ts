import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ERROR_CODES } from '@paddock/protocol';
import Fastify, { type FastifyInstance } from 'fastify';
import { E2B_CONTROL_PATH, installE2bFacade } from '../e2b/index.js';
import type { Store } from '../store/store.js';
import { apiKeyOf, hashApiKey } from './auth.js';
import type { ApiContext } from './context.js';
import { installErrorHandler } from './errors.js';
import { OpenStreams } from './open-streams.js';
import { codeRoutes } from './routes/code.js';
import { commandRoutes } from './routes/commands.js';
import { fileRoutes } from './routes/files.js';
import { networkRoutes } from './routes/network.js';
import { portRoutes } from './routes/ports.js';
import { processRoutes } from './routes/processes.js';
import { ptyRoutes } from './routes/pty.js';
import { sandboxRoutes } from './routes/sandboxes.js';
import { stateRoutes } from './routes/state.js';
import { templateRoutes } from './routes/templates.js';
import { volumeRoutes } from './routes/volumes.js';
import { watchRoutes } from './routes/watch.js';
import type { SandboxTrafficRouter } from './sandbox-traffic.js';

export interface HttpServerOptions {
  ctx: ApiContext;
  store: Store;
  /** Answers `/health` with 503 until this returns true. */
  isReady: () => boolean;
  /** Takes over requests addressed to a sandbox's port (by Host or headers) before the API sees them. */
  sandboxTraffic?: SandboxTrafficRouter;
  /** CPU time of a sandbox in ns (its cgroup), for the E2B facade's metrics. */
  cpuUsageNs?: (sandboxId: string) => Promise<number>;
}

/** The HTTP API: auth, routes and error mapping. The only module that knows HTTP. */
export function buildHttpServer({
  ctx,
  store,
  isReady,
  sandboxTraffic,
  cpuUsageNs,
}: HttpServerOptions): FastifyInstance {
  // Signed E2B file URLs name no sandbox and carry no key: taken before the API (set below).
  let routeSignedFiles: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  const app = Fastify({
    // Sandbox traffic (exposed ports, the E2B facade) is routed on the raw request, before
    // fastify parses bodies: proxied requests and WebSocket upgrades must stream untouched.
    serverFactory: (handler) => {
      const server = createServer((req, res) => {
        if (!sandboxTraffic?.route(req, res) && !routeSignedFiles?.(req, res)) handler(req, res);
      });
      server.on('upgrade', (req, socket, head) => {
        if (!sandboxTraffic?.routeUpgrade(req, socket, head)) socket.destroy();
      });
      return server;
    },
    logger: false,
    // Sandbox and file calls can legitimately last long; their own timeouts apply.
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: 65_000,
    bodyLimit: 64 * 1024 * 1024,
    // A stopping server answers with our typed UNAVAILABLE (the onRequest hook below), not fastify's own 503.
    return503OnClosing: false,
  });
  installErrorHandler(app, ctx.logger);
  app.decorate('openStreams', new OpenStreams());

  app.get('/health', async (_request, reply) =>
    isReady() ? { status: 'ok' } : reply.status(503).send({ code: 'UNAVAILABLE', message: 'server is starting' }),
  );

  app.addHook('onRequest', async (request, reply) => {
    if (request.url === '/health') return;
    const key = apiKeyOf(request.headers);
    if (!key || !store.hasApiKeyHash(hashApiKey(key))) {
      if (E2B_CONTROL_PATH.test(request.url)) {
        // E2B SDKs read `{code: <status>, message}` (see e2b/control-plane/e2b-errors.ts).
        return reply.status(401).send({ code: 401, message: 'the API key is missing or not valid: check E2B_API_KEY' });
      }
      return reply.status(ERROR_CODES.UNAUTHENTICATED.status).send({
        code: 'UNAUTHENTICATED',
        message: key
          ? 'the API key is not valid: check PADDOCK_API_KEY'
          : 'missing API key: send `Authorization: Bearer <key>` (PADDOCK_API_KEY in the SDK and CLI)',
      });
    }
    if (!isReady()) {
      return reply.status(503).send({ code: 'UNAVAILABLE', message: 'server is starting or stopping; retry shortly' });
    }
  });

  sandboxRoutes(app, ctx);
  networkRoutes(app, ctx);
  stateRoutes(app, ctx);
  volumeRoutes(app, ctx);
  commandRoutes(app, ctx);
  codeRoutes(app, ctx);
  fileRoutes(app, ctx);
  processRoutes(app, ctx);
  ptyRoutes(app, ctx);
  watchRoutes(app, ctx);
  templateRoutes(app, ctx);
  portRoutes(app, ctx);
  routeSignedFiles = installE2bFacade({ app, ctx, store, sandboxTraffic, cpuUsageNs }).routeSignedFiles;
  return app;
}
