import { z } from 'zod';
import { EnvVars } from './env.js';

/** A file to put into a template: inline `content` or a `src` path relative to the spec file. */
export const TemplateFile = z
  .strictObject({
    dest: z.string().startsWith('/', 'dest must be an absolute path'),
    content: z.string().optional(),
    src: z.string().optional(),
    mode: z.int().min(0).max(0o7777).optional(),
  })
  .refine((f) => (f.content === undefined) !== (f.src === undefined), 'give exactly one of content or src');

/**
 * A template spec (YAML or JSON): Debian packages, build commands, files, env, workdir and
 * default user. Templates are cached by the hash of the spec's content.
 */
export const TemplateSpec = z.strictObject({
  /** Debian suite of the root filesystem. */
  from: z.enum(['debian:bookworm']).default('debian:bookworm'),
  packages: z.array(z.string().regex(/^[a-z0-9][a-z0-9+.-]*$/, 'not a Debian package name')).default([]),
  /**
   * Shell commands run in order, as root of the template inside an isolated namespace
   * without network access: install software through `packages`.
   */
  run: z.array(z.string().min(1)).default([]),
  files: z.array(TemplateFile).default([]),
  env: EnvVars.default({}),
  workdir: z.string().startsWith('/').default('/home/user'),
  user: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]*$/)
    .default('user'),
});
export type TemplateSpec = z.infer<typeof TemplateSpec>;
export type TemplateSpecInput = z.input<typeof TemplateSpec>;

/** Template names: lowercase, digits, `-`, `_`, `.`; start with a letter or digit. */
export const TEMPLATE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** A template as listed by the API. */
export const TemplateInfo = z.object({
  name: z.string(),
  specHash: z.string(),
  sizeBytes: z.number(),
  createdAt: z.string(),
  /** Environment variables and defaults that sandboxes from this template start with. */
  env: z.record(z.string(), z.string()),
  workdir: z.string(),
  user: z.string(),
});
export type TemplateInfo = z.infer<typeof TemplateInfo>;

/** Body of `POST /v1/templates` (the build streams {@link TemplateBuildEvent}s as NDJSON). */
export const BuildTemplateRequest = z.strictObject({
  name: z.string().regex(TEMPLATE_NAME, 'name must be lowercase letters, digits, ".", "_" or "-" (≤ 64)'),
  spec: TemplateSpec,
  /** Files referenced by `src` in the spec, base64-encoded, keyed by their `src`. */
  contextFiles: z.record(z.string(), z.string()).optional(),
});
export type BuildTemplateRequest = z.input<typeof BuildTemplateRequest>;

/** One line of a template build's progress stream. */
export const TemplateBuildEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('progress'), message: z.string(), step: z.string() }),
  z.object({ type: z.literal('log'), line: z.string() }),
  z.object({ type: z.literal('done'), template: TemplateInfo, cached: z.boolean() }),
  z.object({
    type: z.literal('error'),
    error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
  }),
]);
export type TemplateBuildEvent = z.infer<typeof TemplateBuildEvent>;

/** Body of `GET /v1/templates`. */
export const TemplateList = z.object({ templates: z.array(TemplateInfo) });
