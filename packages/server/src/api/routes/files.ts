import { MkdirRequest, PaddockError, RemoveRequest, RenameRequest, SandboxPath } from '@paddock/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { failpoint, failpointArmed } from '../../core/failpoints.js';
import type { ApiContext } from '../context.js';
import { requestSignal } from '../request-signal.js';
import { parseOrThrow } from '../validate.js';

type FileQuery = { path?: string; user?: string; mode?: string; depth?: string };

function pathOf(request: FastifyRequest): string {
  const q = request.query as FileQuery;
  return parseOrThrow(SandboxPath, q.path ?? '', 'path');
}

function optional<T>(value: T | undefined): T | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * File routes: every operation is done by the agent inside the sandbox, so a symlink the
 * sandbox planted resolves inside the sandbox, never on the host. Bodies stream through.
 */
export function fileRoutes(app: FastifyInstance, ctx: ApiContext): void {
  // Uploads stream straight to the agent: no parsing, no buffering, no body limit here.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

  app.get<{ Params: { id: string } }>('/v1/sandboxes/:id/files', async (request, reply) => {
    const path = pathOf(request);
    const q = request.query as FileQuery;
    const user = optional(q.user);
    const file = await ctx
      .agentOf(request.params.id)
      .readFile(path, { ...(user ? { user } : {}), signal: requestSignal(reply) });
    reply.type('application/octet-stream');
    // Devices and /proc files have no length up front; those go out chunked.
    if (file.sizeBytes !== undefined) reply.header('content-length', String(file.sizeBytes));
    return reply.send(file.stream);
  });

  app.put<{ Params: { id: string } }>('/v1/sandboxes/:id/files', async (request, reply) => {
    const path = pathOf(request);
    const q = request.query as FileQuery;
    const user = optional(q.user);
    let mode: number | undefined;
    if (optional(q.mode) !== undefined) {
      mode = Number(q.mode);
      if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
        throw new PaddockError('INVALID_ARGUMENT', 'mode: must be an integer permission value (e.g. 420 for 0o644)');
      }
    }
    const body = request.body;
    if (!body || typeof (body as NodeJS.ReadableStream).pipe !== 'function') {
      throw new PaddockError(
        'INVALID_ARGUMENT',
        'send the file content as the body with content-type application/octet-stream',
      );
    }
    try {
      // Only when armed: a 'data' listener puts the stream in flowing mode before the pipe.
      if (failpointArmed('upload.streaming'))
        (body as NodeJS.ReadableStream).once('data', () => failpoint('upload.streaming'));
      return await ctx.agentOf(request.params.id).writeFile(path, body as NodeJS.ReadableStream, {
        ...(user ? { user } : {}),
        ...(mode !== undefined ? { mode } : {}),
        signal: requestSignal(reply),
      });
    } catch (err) {
      // Read the rest of the upload and drop it: clients that only read the answer once
      // their body is sent (httpx, curl) would otherwise stall instead of seeing e.g. DISK_FULL.
      // Unpipe first: a later unpipe (when the agent connection closes) would pause it again.
      request.raw.unpipe();
      request.raw.resume();
      throw err;
    }
  });

  app.get<{ Params: { id: string } }>('/v1/sandboxes/:id/files/stat', async (request) =>
    ctx.agentOf(request.params.id).stat(pathOf(request)),
  );

  app.get<{ Params: { id: string } }>('/v1/sandboxes/:id/files/list', async (request) => {
    const q = request.query as FileQuery;
    const depth = optional(q.depth) === undefined ? 1 : Number(q.depth);
    if (!Number.isInteger(depth) || depth < 1 || depth > 10) {
      throw new PaddockError('INVALID_ARGUMENT', 'depth: must be an integer from 1 to 10');
    }
    return ctx.agentOf(request.params.id).list(pathOf(request), { depth });
  });

  app.post<{ Params: { id: string } }>('/v1/sandboxes/:id/files/mkdir', async (request) =>
    ctx.agentOf(request.params.id).mkdir(parseOrThrow(MkdirRequest, request.body ?? {}, 'mkdir request')),
  );

  app.post<{ Params: { id: string } }>('/v1/sandboxes/:id/files/rename', async (request) =>
    ctx.agentOf(request.params.id).rename(parseOrThrow(RenameRequest, request.body ?? {}, 'rename request')),
  );

  app.post<{ Params: { id: string } }>('/v1/sandboxes/:id/files/remove', async (request, reply) => {
    await ctx.agentOf(request.params.id).remove(parseOrThrow(RemoveRequest, request.body ?? {}, 'remove request'));
    return reply.status(204).send();
  });
}
