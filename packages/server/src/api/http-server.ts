import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERROR_CODES } from '@paddock/protocol';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Store } from '../core/seams/store.js';
import { apiKeyOf, hashApiKey } from './auth.js';
import type { ApiContext } from './context.js';
import { installErrorHandler } from './errors.js';
import { OpenStreams } from './open-streams.js';
import { codeRoutes } from './routes/code.js';
import { commandRoutes } from './routes/commands.js';
import { fileRoutes } from './routes/files.js';
import { networkRoutes } from './routes/network.js';
import { pauseForkRoutes } from './routes/pause-fork.js';
import { portRoutes } from './routes/ports.js';
import { processRoutes } from './routes/processes.js';
import { ptyRoutes } from './routes/pty.js';
import { sandboxRoutes } from './routes/sandboxes.js';
import { templateRoutes } from './routes/templates.js';
import { volumeRoutes } from './routes/volumes.js';
import { watchRoutes } from './routes/watch.js';

export interface HttpServerOptions {
  ctx: ApiContext;
  store: Store;
  /** Answers `/health` with 503 until this returns true. */
  isReady: () => boolean;
  /**
   * Take requests before fastify parses them (sandbox ports, signed file URLs): each answers
   * true when it handled the request. Proxied requests and WebSocket upgrades stream untouched.
   */
  rawRoutes?: RawRouter[];
  /** A request without a valid key on a path of another dialect (the E2B facade) gets its error shape. */
  unauthenticatedReply?: (url: string) => { status: number; body: unknown } | undefined;
}

/** A taker of raw requests and upgrades, ahead of the API (see {@link HttpServerOptions.rawRoutes}). */
export interface RawRouter {
  route(req: IncomingMessage, res: ServerResponse): boolean;
  routeUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
}

/** The HTTP API: auth, routes and error mapping. The only module that knows HTTP. */
export function buildHttpServer({
  ctx,
  store,
  isReady,
  rawRoutes = [],
  unauthenticatedReply,
}: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    // Sandbox traffic (exposed ports, the E2B facade) is routed on the raw request, before
    // fastify parses bodies: proxied requests and WebSocket upgrades must stream untouched.
    serverFactory: (handler) => {
      const server = createServer((req, res) => {
        if (!rawRoutes.some((router) => router.route(req, res))) handler(req, res);
      });
      server.on('upgrade', (req, socket, head) => {
        if (!rawRoutes.some((router) => router.routeUpgrade?.(req, socket, head))) socket.destroy();
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
      const foreign = unauthenticatedReply?.(request.url);
      if (foreign) return reply.status(foreign.status).send(foreign.body);
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
  pauseForkRoutes(app, ctx);
  volumeRoutes(app, ctx);
  commandRoutes(app, ctx);
  codeRoutes(app, ctx);
  fileRoutes(app, ctx);
  processRoutes(app, ctx);
  ptyRoutes(app, ctx);
  watchRoutes(app, ctx);
  templateRoutes(app, ctx);
  portRoutes(app, ctx);
  return app;
}
