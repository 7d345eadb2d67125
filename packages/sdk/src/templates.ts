import {
  parseNdjson,
  type TemplateBuildEvent,
  TemplateInfo,
  TemplateList,
  type TemplateSpecInput,
} from '@paddock/protocol';
import { Connection, type ConnectionOptions, checked } from './connection.js';
import { errorFromBody } from './errors.js';

/** Options of {@link Template.build}. */
export interface TemplateBuildOptions extends ConnectionOptions {
  /** Files named by `src` in the spec: their bytes, keyed by `src`. */
  contextFiles?: Record<string, Uint8Array>;
  /** Progress and log lines as the build goes. */
  onEvent?: (event: TemplateBuildEvent) => void;
}

/** A context file: its bytes, or its bytes and mode (e.g. `0o755` for a script). */
export type BuildContextFile = Uint8Array | { data: Uint8Array; mode?: number };

/** Options of {@link Template.buildDockerfile}. */
export interface DockerfileBuildOptions extends ConnectionOptions {
  /** Dockerfile text. */
  dockerfile: string;
  /** The build context by `/`-separated relative path; a `.dockerignore` in it is honoured. */
  context?: Record<string, BuildContextFile>;
  /** Values for the Dockerfile's ARGs. */
  buildArgs?: Record<string, string>;
  onEvent?: (event: TemplateBuildEvent) => void;
}

/** Templates: read-only root filesystems that sandboxes start from. */
export const Template = {
  /**
   * Builds (or finds cached) a template from a spec and names it. Resolves when it is ready.
   *
   * @example
   * ```ts
   * await Template.build('py-tools', { packages: ['python3-requests'] }, { onEvent: (e) => console.log(e) })
   * ```
   */
  async build(
    name: string,
    spec: TemplateSpecInput,
    opts: TemplateBuildOptions = {},
  ): Promise<{ template: TemplateInfo; cached: boolean }> {
    const conn = new Connection(opts);
    const contextFiles: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.contextFiles ?? {})) contextFiles[k] = Buffer.from(v).toString('base64');
    return streamBuild(conn, { json: { name, spec, contextFiles }, opts });
  },

  /**
   * Builds a template from a Dockerfile (steps are cached, so a rebuild after editing a late line
   * reruns only what follows it). `FROM base` starts from the Paddock template `base`.
   *
   * @example
   * ```ts
   * await Template.buildDockerfile('web', {
   *   dockerfile: 'FROM base\nCOPY app.py /app/\nCMD ["python3", "/app/app.py"]',
   *   context: { 'app.py': new TextEncoder().encode('print("hi")') },
   * })
   * ```
   */
  async buildDockerfile(
    name: string,
    opts: DockerfileBuildOptions,
  ): Promise<{ template: TemplateInfo; cached: boolean }> {
    const conn = new Connection(opts);
    const context: Record<string, { data: string; mode?: number }> = {};
    for (const [path, file] of Object.entries(opts.context ?? {})) {
      const { data, mode } = file instanceof Uint8Array ? { data: file, mode: undefined } : file;
      context[path] = { data: Buffer.from(data).toString('base64'), ...(mode === undefined ? {} : { mode }) };
    }
    const json = {
      name,
      dockerfile: opts.dockerfile,
      context,
      ...(opts.buildArgs ? { buildArgs: opts.buildArgs } : {}),
    };
    return streamBuild(conn, { json, opts });
  },

  async list(opts: ConnectionOptions = {}): Promise<TemplateInfo[]> {
    const body = await new Connection(opts).json('GET', '/v1/templates', opts);
    return checked((v) => TemplateList.safeParse(v), body).templates;
  },

  async get(name: string, opts: ConnectionOptions = {}): Promise<TemplateInfo> {
    const body = await new Connection(opts).json('GET', `/v1/templates/${encodeURIComponent(name)}`, opts);
    return checked((v) => TemplateInfo.safeParse(v), body);
  },

  /** Deletes a template; fails with ConflictError while sandboxes use it. */
  async remove(name: string, opts: ConnectionOptions = {}): Promise<void> {
    await new Connection(opts).json('DELETE', `/v1/templates/${encodeURIComponent(name)}`, opts);
  },
};

/** Sends a build request and follows its event stream to the result. */
async function streamBuild(
  conn: Connection,
  job: { json: unknown; opts: ConnectionOptions & { onEvent?: (event: TemplateBuildEvent) => void } },
): Promise<{ template: TemplateInfo; cached: boolean }> {
  const res = await conn.request('POST', '/v1/templates', {
    json: job.json,
    signal: job.opts.signal,
    requestTimeoutMs: job.opts.requestTimeoutMs,
  });
  for await (const raw of parseNdjson(res)) {
    const event = raw as TemplateBuildEvent;
    job.opts.onEvent?.(event);
    if (event.type === 'error') throw errorFromBody(event.error as never);
    if (event.type === 'done') return { template: event.template, cached: event.cached };
  }
  throw errorFromBody({ code: 'INTERNAL', message: 'the template build stream ended without a result' });
}
