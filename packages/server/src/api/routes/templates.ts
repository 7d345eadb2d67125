import type { Readable } from 'node:stream';
import {
  BuildTemplateRequest,
  PaddockError,
  TEMPLATE_TAG,
  type TemplateBuildEvent,
  type TemplateInfo,
} from '@paddock/protocol';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { sendNdjson } from '../ndjson-reply.js';
import { parseOrThrow } from '../validate.js';

type BuildResult = { info: TemplateInfo; cached: boolean };

const TAG = z.string().regex(TEMPLATE_TAG, 'a tag is letters, digits, ".", "_" or "-"');

/** Relays build events as they come; the build's own failure arrives as a final `error` event. */
async function* buildEvents(
  start: (onEvent: (event: TemplateBuildEvent) => void) => Promise<BuildResult>,
): AsyncGenerator<TemplateBuildEvent> {
  const queue: TemplateBuildEvent[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  const push = (event: TemplateBuildEvent) => {
    queue.push(event);
    wake?.();
  };
  const build = start(push)
    .then(
      ({ info, cached }) => push({ type: 'done', template: info, cached }),
      (err: unknown) => {
        const pe = err as { code?: string; message?: string; details?: Record<string, unknown> };
        push({
          type: 'error',
          error: {
            code: typeof pe.code === 'string' ? pe.code : 'TEMPLATE_BUILD_FAILED',
            message: pe.message ?? String(err),
            ...(pe.details ? { details: pe.details } : {}),
          },
        });
      },
    )
    .finally(() => {
      finished = true;
      wake?.();
    });
  while (true) {
    const next = queue.shift();
    if (next) {
      yield next;
      continue;
    }
    if (finished) break;
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
    wake = undefined;
  }
  await build;
}

/** Largest image archive an import takes (a `docker save` of a big image is several GiB). */
const IMPORT_LIMIT_BYTES = 64 * 1024 ** 3;

export function templateRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/v1/templates', async () => ({ templates: ctx.templates.list() }));

  app.get<{ Params: { name: string } }>('/v1/templates/:name', async (request) =>
    ctx.templates.get(request.params.name),
  );

  app.post('/v1/templates', { bodyLimit: 256 * 1024 * 1024 }, async (request, reply) => {
    const req = parseOrThrow(BuildTemplateRequest, request.body ?? {}, 'template build request');
    return sendNdjson(reply, (signal) =>
      buildEvents((onEvent) =>
        req.dockerfile !== undefined
          ? ctx.templates.buildDockerfile({
              name: req.name,
              dockerfile: req.dockerfile,
              ...(req.buildArgs === undefined ? {} : { buildArgs: req.buildArgs }),
              context: req.context ?? {},
              registryAuth: req.registryAuth,
              insecureRegistry: req.insecureRegistry ?? false,
              onEvent,
              signal,
            })
          : ctx.templates.build({
              name: req.name,
              spec: req.spec,
              contextFiles: req.contextFiles ?? {},
              registryAuth: req.registryAuth,
              onEvent,
              signal,
            }),
      ),
    );
  });

  // An image archive streams in as the body; it is spooled to disk, never held in memory.
  for (const type of ['application/x-tar', 'application/octet-stream']) {
    if (!app.hasContentTypeParser(type))
      app.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
  }
  app.post<{ Querystring: { name?: string } }>(
    '/v1/templates/import',
    { bodyLimit: IMPORT_LIMIT_BYTES },
    async (request, reply) => {
      const name = parseOrThrow(
        BuildTemplateRequest.shape.name,
        request.query.name ?? '',
        'template name (query `name`)',
      );
      const archive = request.body as Readable | undefined;
      if (!archive || typeof archive.pipe !== 'function') {
        throw new PaddockError(
          'INVALID_ARGUMENT',
          'send the image archive (docker save or an OCI layout tar) as the body with content-type application/x-tar',
        );
      }
      return sendNdjson(reply, (signal) =>
        buildEvents((onEvent) => ctx.templates.importArchive({ name, archive, onEvent, signal })),
      );
    },
  );

  app.delete<{ Params: { name: string } }>('/v1/templates/:name', async (request, reply) => {
    const { name } = request.params;
    // `name:tag` names are E2B tags of a build (e2b/template-builder): removable here too.
    const colon = name.indexOf(':');
    parseOrThrow(BuildTemplateRequest.shape.name, colon < 0 ? name : name.slice(0, colon), 'template name');
    if (colon >= 0) parseOrThrow(TAG, name.slice(colon + 1), 'template tag');
    await ctx.templates.remove(name);
    return reply.status(204).send();
  });
}
