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
 * How a sandbox knows that its template's start command is ready; give exactly one of
 * `command` (exits 0), `port` (accepts TCP connections inside the sandbox) or `url` (answers
 * HTTP 2xx/3xx inside the sandbox).
 */
export const ReadyCheck = z
  .strictObject({
    command: z.string().min(1).optional(),
    port: z.int().min(1).max(65535).optional(),
    url: z.url().optional(),
    /** How long a boot waits for readiness before it fails. */
    timeoutMs: z.int().min(1).max(600_000).optional(),
  })
  .refine(
    (r) => [r.command, r.port, r.url].filter((v) => v !== undefined).length === 1,
    'give exactly one of command, port or url',
  );
export type ReadyCheck = z.infer<typeof ReadyCheck>;

/**
 * A process a template starts when a sandbox boots (e.g. a dev server), and how to tell it is
 * ready. Sandboxes (pooled spares included) are handed out only once it is ready.
 */
export const TemplateStart = z.strictObject({
  command: z.string().min(1),
  ready: ReadyCheck.optional(),
});
export type TemplateStart = z.infer<typeof TemplateStart>;

/** Where a template's files came from. */
export const TemplateSource = z.object({
  kind: z.enum(['debian', 'image', 'dockerfile', 'e2b']),
  /** The image reference or Dockerfile path as given. */
  ref: z.string().optional(),
  /** The image's manifest digest (`sha256:…`), when built from an image. */
  digest: z.string().optional(),
});
export type TemplateSource = z.infer<typeof TemplateSource>;

/**
 * A template spec (YAML or JSON): Debian packages, build commands, files, env, workdir and
 * default user. Templates are cached by the hash of the spec's content.
 */
const TemplateSpecFields = z
  .strictObject({
    /**
     * What the template starts from: Debian bookworm (`packages` are installed with
     * mmdebstrap), an OCI image (`{ image: "registry:5000/team/agent:1.4" }`, `insecure`
     * allows a plain-HTTP or self-signed registry), or another template (`{ template: NAME }`).
     */
    from: z
      .union([
        z.literal('debian:bookworm'),
        z.strictObject({ image: z.string().min(1), insecure: z.boolean().optional() }),
        z.strictObject({ template: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'not a template name') }),
      ])
      .default('debian:bookworm'),
    packages: z.array(z.string().regex(/^[a-z0-9][a-z0-9+.-]*$/, 'not a Debian package name')).default([]),
    /**
     * Shell commands run in order, as root of the template inside an isolated namespace
     * without network access: install software through `packages`.
     */
    run: z.array(z.string().min(1)).default([]),
    files: z.array(TemplateFile).default([]),
    env: EnvVars.default({}),
    /** Default cwd of commands; `/home/user` on Debian, the image's `WorkingDir` on images. */
    workdir: z.string().startsWith('/').optional(),
    /** Default user of commands; `user` (uid 1000) on Debian, the image's `User` on images. */
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]*$|^\d+(:\d+)?$/, 'a user name, a uid or uid:gid')
      .optional(),
    /**
     * A process started whenever a sandbox boots fresh (e.g. a dev server), as `user` in
     * `workdir` with the sandbox's env; creates (and pooled spares) wait for its `ready` check.
     */
    start: TemplateStart.optional(),
  })
  .refine((spec) => spec.from === 'debian:bookworm' || spec.packages.length === 0, {
    path: ['packages'],
    message: 'Debian packages install only on from: debian:bookworm; on an image, install them in a Dockerfile',
  });
export const TemplateSpec = z.preprocess(withDebianDefaults, TemplateSpecFields);
export type TemplateSpec = z.infer<typeof TemplateSpec>;

/** Debian specs keep their defaults in the parsed spec, so their content hash never changed. */
function withDebianDefaults(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const spec = raw as Record<string, unknown>;
  if (spec.from !== undefined && spec.from !== 'debian:bookworm') return raw;
  return { ...spec, workdir: spec.workdir ?? '/home/user', user: spec.user ?? 'user' };
}
export type TemplateSpecInput = z.input<typeof TemplateSpecFields>;

/** Template names: lowercase, digits, `-`, `_`, `.`; start with a letter or digit. */
export const TEMPLATE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * Tags of a template build (E2B's `name:tag`): letters, digits, `.`, `_`, `-`. A tagged build is
 * listed as the template `name:tag`; the tag `default` is the plain name.
 */
export const TEMPLATE_TAG = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

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
  source: TemplateSource.optional(),
  /** The image's `Entrypoint` and `Cmd`, kept as the template's defaults. */
  entrypoint: z.array(z.string()).optional(),
  cmd: z.array(z.string()).optional(),
  start: TemplateStart.optional(),
});
export type TemplateInfo = z.infer<typeof TemplateInfo>;

/** Registry credentials sent with a build (never stored, logged or put into a sandbox). */
export const RegistryAuth = z.strictObject({ username: z.string().min(1), password: z.string().min(1) });
export type RegistryAuth = z.infer<typeof RegistryAuth>;

/** One file of a Dockerfile build context: base64 bytes and the file mode (e.g. 0o755). */
export const ContextFile = z.strictObject({
  data: z.base64(),
  mode: z.int().min(0).max(0o7777).optional(),
});
export type ContextFile = z.infer<typeof ContextFile>;

/**
 * Body of `POST /v1/templates` (the build streams {@link TemplateBuildEvent}s as NDJSON): give
 * exactly one of `spec` (Debian packages) or `dockerfile`.
 */
export const BuildTemplateRequest = z
  .strictObject({
    name: z.string().regex(TEMPLATE_NAME, 'name must be lowercase letters, digits, ".", "_" or "-" (≤ 64)'),
    spec: TemplateSpec.optional(),
    /** Files referenced by `src` in the spec, base64-encoded, keyed by their `src`. */
    contextFiles: z.record(z.string(), z.string()).optional(),
    /**
     * Dockerfile text. `FROM name` uses a Paddock template of that name when one exists (stages of
     * the same Dockerfile first, then templates, then image references); `FROM scratch` is empty.
     */
    dockerfile: z
      .string()
      .min(1)
      .max(1024 * 1024)
      .optional(),
    /** `--build-arg` values for the Dockerfile's ARGs. */
    buildArgs: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not an ARG name'), z.string()).optional(),
    /** The Dockerfile's build context: files by `/`-separated path relative to the context dir. */
    context: z.record(z.string().min(1), ContextFile).optional(),
    /** Credentials for the registry of the image the build starts from; used for this build only, never stored. */
    registryAuth: RegistryAuth.optional(),
    /** Allow a plain-HTTP or self-signed registry for a Dockerfile's `FROM` images. */
    insecureRegistry: z.boolean().optional(),
  })
  .refine((r) => (r.spec === undefined) !== (r.dockerfile === undefined), 'give exactly one of spec or dockerfile');
export type BuildTemplateRequest = z.input<typeof BuildTemplateRequest>;

/** One line of a template build's progress stream. */
export const TemplateBuildEvent = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('progress'),
    message: z.string(),
    step: z.string(),
    /** Transfer and unpack counts of an image (pull, unpack). */
    layersDone: z.number().optional(),
    layersTotal: z.number().optional(),
    bytesDone: z.number().optional(),
    bytesTotal: z.number().optional(),
  }),
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
