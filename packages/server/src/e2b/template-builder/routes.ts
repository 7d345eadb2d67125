import { PaddockError } from '@paddock/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BUILTIN_TEMPLATES } from '../../templates/builtin.js';
import type { TemplateRegistry } from '../../templates/registry.js';
import { parseE2b } from '../control-plane/requests.js';
import { paddockTemplateOf } from '../template-names.js';
import type { E2bBuilds } from './build-jobs.js';
import { E2bAssignTags, E2bBuildStart, E2bRemoveTags, E2bRequestBuild, FILES_HASH } from './requests.js';
import { checkTag, DEFAULT_TAG, parseNameTag, storeNameOf, storeNameOfRef } from './template-tags.js';
import { translateBuild } from './translate.js';
import { uploadUrl } from './upload-route.js';
import type { TemplateUploads } from './uploads.js';

export interface TemplateBuilderDeps {
  templates: TemplateRegistry;
  builds: E2bBuilds;
  uploads: TemplateUploads;
}

type BuildParams = { Params: { templateID: string; buildID: string } };

/** E2B's template-builder calls (docs/e2b-protocol.md §5), on the E2B control-plane plugin. */
export function e2bTemplateBuilderRoutes(app: FastifyInstance, deps: TemplateBuilderDeps): void {
  const { templates, builds, uploads } = deps;
  const exists = (name: string) => templates.resolve(name) !== undefined;

  app.post('/v3/templates', async (request, reply) => {
    const body = parseE2b(E2bRequestBuild, request.body, 'template build');
    const ref = body.name ?? body.alias;
    if (ref === undefined) throw invalid('name', 'give the template a name (Template.build(t, name))');
    const { name, tag } = parseNameTag(ref, 'name');
    if (isBuiltin(paddockTemplateOf(name))) {
      throw invalid('name', `'${name}' is a built-in template; build under another name`);
    }
    for (const t of body.tags ?? []) checkTag(t, 'tags');
    const tags = [...new Set([...(tag ? [tag] : []), ...(body.tags ?? [])])];
    if (tags.length === 0) tags.push(DEFAULT_TAG);
    const build = builds.request(
      name,
      tags.map((t) => storeNameOf(name, t)),
      tags,
    );
    return reply.status(202).send({
      templateID: name,
      buildID: build.buildID,
      tags,
      names: [name],
      aliases: [name],
      public: false,
    });
  });

  app.get<{ Params: { templateID: string; hash: string } }>(
    '/templates/:templateID/files/:hash',
    async (request, reply) => {
      const { templateID, hash } = request.params;
      if (!FILES_HASH.test(hash)) throw invalid('hash', 'a files hash is 64 hex digits');
      if (!builds.hasTemplate(templateID)) {
        throw new PaddockError('NOT_FOUND', `template '${templateID}' has no build: POST /v3/templates first`, {
          field: 'templateID',
        });
      }
      if (uploads.get(hash)) return reply.status(201).send({ present: true });
      const origin = `${request.protocol}://${request.headers.host ?? request.hostname}`;
      return reply.status(201).send({ present: false, url: uploadUrl(origin, hash, uploads.tokenFor(hash)) });
    },
  );

  app.post<BuildParams>('/v2/templates/:templateID/builds/:buildID', async (request, reply) => {
    const build = builds.get(request.params.templateID, request.params.buildID);
    const body = parseE2b(E2bBuildStart, request.body, 'template build');
    const translated = translateBuild(body, {
      uploadOf: (hash) => uploads.get(hash),
      templateExists: exists,
      userOf: (name) => templates.resolve(name)?.user,
    });
    builds.start(build, translated);
    return reply.status(202).send();
  });

  app.get(
    '/templates/:templateID/builds/:buildID/status',
    async (request: FastifyRequest<BuildParams & { Querystring: { logsOffset?: string } }>) => {
      const offset = request.query.logsOffset === undefined ? 0 : Number(request.query.logsOffset);
      if (!Number.isSafeInteger(offset) || offset < 0) throw invalid('logsOffset', 'a count of log entries (≥ 0)');
      const build = builds.get(request.params.templateID, request.params.buildID);
      return builds.status(build, offset);
    },
  );

  app.get<{ Params: { alias: string } }>('/templates/aliases/:alias', async (request) => {
    const name = storeNameOfRef(request.params.alias, 'alias');
    if (!exists(name)) throw new PaddockError('NOT_FOUND', `template '${request.params.alias}' not found`);
    return { templateID: request.params.alias, public: false };
  });

  app.get<{ Params: { templateID: string } }>('/templates/:templateID/tags', async (request) => {
    const { name } = parseNameTag(request.params.templateID, 'templateID');
    const base = paddockTemplateOf(name);
    const tagged = templates
      .list()
      .filter((t) => t.name === base || t.name.startsWith(`${base}:`))
      .map((t) => ({
        tag: t.name === base ? DEFAULT_TAG : t.name.slice(base.length + 1),
        buildID: builds.buildIdOf(t.specHash) ?? t.specHash,
        createdAt: t.createdAt,
      }));
    if (tagged.length === 0) throw new PaddockError('NOT_FOUND', `template '${name}' not found`);
    return tagged;
  });

  app.post('/templates/tags', async (request, reply) => {
    const body = parseE2b(E2bAssignTags, request.body, 'assign tags');
    const { name, tag } = parseNameTag(body.target, 'target');
    for (const t of body.tags) checkTag(t, 'tags');
    const source = templates.resolve(storeNameOf(paddockTemplateOf(name), tag));
    if (!source) throw new PaddockError('NOT_FOUND', `template '${body.target}' not found`, { field: 'target' });
    for (const t of body.tags) builds.putName(storeNameOf(paddockTemplateOf(name), t), source.specHash);
    return reply.status(201).send({ buildID: builds.buildIdOf(source.specHash) ?? source.specHash, tags: body.tags });
  });

  app.delete('/templates/tags', async (request, reply) => {
    const body = parseE2b(E2bRemoveTags, request.body, 'remove tags');
    const { name } = parseNameTag(body.name, 'name');
    for (const t of body.tags) checkTag(t, 'tags');
    const targets = body.tags.map((t) => storeNameOf(paddockTemplateOf(name), t));
    if (targets.some(isBuiltin)) throw invalid('name', `the built-in template '${name}' keeps its tags`);
    const missing = targets.find((n) => !exists(n));
    if (missing) throw new PaddockError('NOT_FOUND', `template '${missing}' not found`, { field: 'tags' });
    for (const n of targets) await templates.remove(n);
    return reply.status(204).send();
  });
}

function isBuiltin(name: string): boolean {
  return (BUILTIN_TEMPLATES as readonly string[]).includes(name);
}

function invalid(field: string, message: string): PaddockError {
  return new PaddockError('INVALID_ARGUMENT', `${field}: ${message}`, { field });
}
