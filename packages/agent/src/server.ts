import type { IncomingMessage, ServerResponse } from 'node:http';
import { MkdirRequest, PaddockError, RemoveRequest, RenameRequest, SandboxPath } from '@paddock/protocol';
import { z } from 'zod';
import { refuseAgentPath } from './agent-paths.js';
import { codeRoutes } from './code/code-routes.js';
import type { AgentConfig } from './config.js';
import { sendError } from './errors-to-http.js';
import { listPath, MAX_LIST_DEPTH, normalPath, statPath } from './file-info.js';
import { ensureDir, removePath, renamePath } from './files-manage.js';
import { handleRead } from './files-read.js';
import { handleWrite } from './files-write.js';
import { answerHealth } from './health.js';
import { handleListPorts } from './ports/listening-ports.js';
import { handleList, handleProcessRoute, handleStart, killAllProcesses } from './processes/process-routes.js';
import { handleCreatePty, handleListPty, handlePtyRoute } from './pty/pty-routes.js';
import { parseInput, queryOf, readJson } from './request-input.js';
import { UserDb } from './users.js';
import { handleWatch } from './watch/watch-route.js';

type Handler = (req: IncomingMessage, res: ServerResponse, config: AgentConfig) => Promise<void>;

const StatQuery = z.strictObject({ path: SandboxPath });
const ListQuery = z.strictObject({
  path: SandboxPath,
  depth: z.coerce.number().int().min(1).max(MAX_LIST_DEPTH).optional(),
});

/** The routes of docs/agent-protocol.md, keyed by `METHOD /path`. */
const routes: Record<string, Handler> = {
  'GET /health': async (_req, res) => answerHealth(res),
  ...codeRoutes,
  'POST /processes': handleStart,
  'GET /processes': handleList,
  'POST /pty': handleCreatePty,
  'GET /pty': handleListPty,
  'GET /files/read': handleRead,
  'PUT /files/write': handleWrite,
  'GET /watch': handleWatch,
  'GET /ports': handleListPorts,
  'GET /files/stat': async (req, res) => {
    const { path } = parseInput(StatQuery, queryOf(req));
    sendJson(res, 200, await statPath(normalPath(path), UserDb.load()));
  },
  'GET /files/list': async (req, res) => {
    const query = parseInput(ListQuery, queryOf(req));
    const entries = await listPath(normalPath(query.path), query.depth ?? 1, UserDb.load());
    sendJson(res, 200, { entries });
  },
  'POST /files/mkdir': async (req, res, config) => {
    const request = parseInput(MkdirRequest, await readJson(req));
    const users = UserDb.load();
    const path = normalPath(request.path);
    await refuseAgentPath(path, { field: 'path', subtree: false });
    await ensureDir(path, users.resolve(request.user ?? config.defaultUser));
    sendJson(res, 200, await statPath(path, users));
  },
  'POST /files/rename': async (req, res, config) => {
    const request = parseInput(RenameRequest, await readJson(req));
    const users = UserDb.load();
    users.resolve(request.user ?? config.defaultUser);
    const from = normalPath(request.from);
    const to = normalPath(request.to);
    await refuseAgentPath(from, { field: 'from', subtree: true });
    await refuseAgentPath(to, { field: 'to', subtree: true });
    await renamePath(from, to);
    sendJson(res, 200, await statPath(to, users));
  },
  'POST /files/remove': async (req, res, config) => {
    const request = parseInput(RemoveRequest, await readJson(req));
    UserDb.load().resolve(request.user ?? config.defaultUser);
    const path = normalPath(request.path);
    await refuseAgentPath(path, { field: 'path', subtree: true });
    await removePath(path);
    res.writeHead(204).end();
  },
};

/** Runs the route of `req`; every failure becomes an error answer. */
export async function dispatch(req: IncomingMessage, res: ServerResponse, config: AgentConfig): Promise<void> {
  const pathname = (req.url ?? '/').split('?', 1)[0];
  const handler = routes[`${req.method} ${pathname}`];
  try {
    if (handler === undefined) {
      // `/processes/:id/…` carry an id, so they are matched apart from the table above.
      if (await handleProcessRoute(req, res, config)) return;
      if (await handlePtyRoute(req, res)) return;
      throw new PaddockError('NOT_FOUND', `the agent has no route ${req.method} ${pathname}`);
    }
    await handler(req, res, config);
  } catch (err) {
    // A client that went away gets no answer, and its broken pipe is not a failure.
    if (req.destroyed && res.destroyed) return;
    sendError(res, err);
    // Discard an unread body so the connection can carry the next request.
    if (!req.complete) req.resume();
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export { killAllProcesses };
