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
    const res = await conn.request('POST', '/v1/templates', {
      json: { name, spec, contextFiles },
      signal: opts.signal,
      requestTimeoutMs: opts.requestTimeoutMs,
    });
    for await (const raw of parseNdjson(res)) {
      const event = raw as TemplateBuildEvent;
      opts.onEvent?.(event);
      if (event.type === 'error') throw errorFromBody(event.error as never);
      if (event.type === 'done') return { template: event.template, cached: event.cached };
    }
    throw errorFromBody({ code: 'INTERNAL', message: 'the template build stream ended without a result' });
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
