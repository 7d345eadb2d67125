import { unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { type AgentConfig, loadConfig } from './config.js';
import { syncEtcHostname } from './etc-hostname.js';
import { answerHealth } from './health.js';
import { log } from './log.js';
import { guardSocket } from './socket-guard.js';
import { quiesce } from './state/quiesce.js';

/**
 * Entry point: `PADDOCK_SOCKET` is where to listen, `PADDOCK_CONFIG` the AgentConfig JSON.
 *
 * The driver reports the sandbox ready once `GET /health` answers, so the agent listens
 * before loading its request handlers (zod and the schemas cost ~50 ms of CPU here) and
 * loads them right after the first health answer, while the host hands the sandbox to its
 * caller. A request that comes earlier waits for the load; nothing is lost.
 */
type App = typeof import('./server.js');
let app: Promise<App> | undefined;
const loadApp = (): Promise<App> => {
  app ??= import('./server.js');
  return app;
};

function main(): void {
  const socketPath = process.env.PADDOCK_SOCKET;
  const configPath = process.env.PADDOCK_CONFIG;
  if (!socketPath || !configPath) {
    log.error('PADDOCK_SOCKET and PADDOCK_CONFIG must be set');
    process.exit(2);
  }
  const config = loadConfig(configPath);
  let server: Server | undefined;
  const guard = guardSocket(socketPath, () => {
    log.warn('the socket file was removed or replaced; listening on a new one', { socket: socketPath });
    // close() also unlinks whatever is at the path now; connections in flight carry on.
    server?.close();
    listen();
  });
  const listen = () => {
    // A socket file left by an earlier agent (restart, crash) would make listen fail.
    try {
      unlinkSync(socketPath);
    } catch {
      // Usually absent.
    }
    const next = createAgentServer(config, socketPath);
    server = next;
    next.listen(socketPath, () => {
      guard.listening();
      // performance.now() counts from process start: Node's own start-up is included.
      log.info('listening', { socket: socketPath, pid: process.pid, startupMs: Math.round(performance.now()) });
      // Without a health check (agent run by hand), load anyway once start-up has settled.
      setTimeout(loadApp, 100);
    });
  };
  // Only as root in a sandbox; an agent run by hand (tests) leaves the host's file alone.
  if (process.getuid?.() === 0 && process.env.PADDOCK_SANDBOX === '1') syncEtcHostname();
  listen();
  // Handled here, not in server.ts: it needs the listening server itself.
  quiesceHandler = (res) => {
    guard.pause();
    res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
    // Open tunnels hold host socket connections too, which a checkpoint cannot keep.
    res.end('{"ok":true}', () => {
      tunnels?.closeAllTunnels();
      if (server) quiesce(server, socketPath, listen);
    });
  };

  const shutdown = async (signal: NodeJS.Signals) => {
    log.info('shutting down', { signal });
    if (app !== undefined) (await app).killAllProcesses();
    server?.close();
    server?.closeAllConnections();
    process.exit(0);
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

/** One HTTP server on the agent's socket; a new one each time the agent listens anew. */
function createAgentServer(config: AgentConfig, socketPath: string): Server {
  const server = createServer((req, res) => handle(req, res, config));
  // Uploads and command streams may last hours; the host client bounds them with its own
  // signals. Idle keep-alive sockets outlive the client's (30 s) so that it closes them first.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  // Tunnels to in-sandbox ports (exposed ports): loaded lazily like the request handlers.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    import('./ports/tunnel.js').then(
      (loaded) => {
        tunnels = loaded;
        loaded.handleTunnel(req, socket, head);
      },
      () => socket.destroy(),
    );
  });
  server.on('error', (err) => {
    log.error('cannot serve', { err, socket: socketPath });
    process.exit(1);
  });
  return server;
}

let tunnels: typeof import('./ports/tunnel.js') | undefined;
let quiesceHandler: ((res: ServerResponse) => void) | undefined;

function handle(req: IncomingMessage, res: ServerResponse, config: AgentConfig): void {
  if (req.method === 'POST' && req.url === '/quiesce' && quiesceHandler) {
    quiesceHandler(res);
    return;
  }
  if (req.method === 'GET' && req.url === '/health') {
    answerHealth(res);
    res.once('finish', loadApp);
    return;
  }
  loadApp().then(
    (loaded) => loaded.dispatch(req, res, config),
    (err: unknown) => {
      log.error('cannot load the request handlers', { err });
      res.destroy();
    },
  );
}

main();
