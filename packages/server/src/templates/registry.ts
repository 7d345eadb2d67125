import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  PaddockError,
  type TemplateBuildEvent,
  type TemplateInfo,
  type TemplateSource,
  type TemplateSpec,
} from '@paddock/protocol';
import type { Store } from '../core/seams/store.js';
import type { ResolvedTemplate, TemplateCatalog } from '../core/templates.js';
import type { DataPaths } from '../paths.js';
import { buildTemplate, removeTemplateFiles } from './builder.js';
import { filterContext } from './dockerfile/build-context.js';
import { parseDockerfile } from './dockerfile/parse-dockerfile.js';
import type { BuildContext, BuildPlan } from './plan.js';
import { validateTemplateSpec } from './spec.js';
import { buildPlan, type ResolvedBase } from './steps/build-plan.js';
import { pruneBuildCache } from './steps/layer-cache.js';
import type { ExternalBase } from './steps/plan-keys.js';
import { templateBaseResolver } from './steps/template-base.js';

type BuiltMeta = Omit<TemplateInfo, 'name'>;
type ImageBases = (base: Extract<ExternalBase, { kind: 'image' }>, signal: AbortSignal) => Promise<ResolvedBase>;

/** Build-cache entries unused this long are pruned after each plan build. */
const BUILD_CACHE_MAX_AGE_MS = 14 * 24 * 3600 * 1000;
/** Then the least recently used go until the cache is this small. */
const BUILD_CACHE_MAX_BYTES = 20 * 1024 ** 3;

/**
 * Names → built templates. Names live in the store; the built root filesystems live on
 * disk by content hash, so two names with the same spec share one build.
 */
export class TemplateRegistry implements TemplateCatalog {
  private readonly metaCache = new Map<string, BuiltMeta>();
  private imageBases: ImageBases | undefined;
  /** Limits of the step cache (`DATA/build-cache`), checked after each plan build. */
  buildCacheLimits = { maxAgeMs: BUILD_CACHE_MAX_AGE_MS, maxBytes: BUILD_CACHE_MAX_BYTES };

  constructor(
    private readonly paths: DataPaths,
    private readonly store: Store,
    /** Hashes still used by live sandboxes (a template in use cannot be removed). */
    private readonly hashesInUse: () => Set<string>,
  ) {}

  private meta(specHash: string): BuiltMeta | undefined {
    const cached = this.metaCache.get(specHash);
    if (cached) return cached;
    const file = join(this.paths.templates, specHash, 'meta.json');
    if (!existsSync(file)) return undefined;
    const meta = JSON.parse(readFileSync(file, 'utf8')) as BuiltMeta;
    this.metaCache.set(specHash, meta);
    return meta;
  }

  resolveHash(specHash: string): ResolvedTemplate | undefined {
    const meta = this.meta(specHash);
    if (!meta) return undefined;
    const name = this.store.listTemplates().find((t) => t.specHash === specHash)?.name ?? specHash;
    return {
      name,
      specHash,
      rootfs: join(this.paths.templates, specHash, 'rootfs'),
      env: meta.env,
      workdir: meta.workdir,
      user: meta.user,
    };
  }

  resolve(name: string): ResolvedTemplate | undefined {
    const record = this.store.getTemplate(name);
    const resolved = record && this.resolveHash(record.specHash);
    return resolved && { ...resolved, name };
  }

  list(): TemplateInfo[] {
    return this.store.listTemplates().flatMap((t) => {
      const meta = this.meta(t.specHash);
      return meta ? [{ ...meta, name: t.name }] : [];
    });
  }

  get(name: string): TemplateInfo {
    const record = this.store.getTemplate(name);
    const meta = record && this.meta(record.specHash);
    if (!meta) throw new PaddockError('NOT_FOUND', `template '${name}' does not exist`, { template: name });
    return { ...meta, name };
  }

  /** Builds (or reuses the cached build of) `spec` and points `name` at it. */
  async build(opts: {
    name: string;
    spec: unknown;
    contextFiles: Record<string, string>;
    onEvent: (event: TemplateBuildEvent) => void;
    signal: AbortSignal;
  }): Promise<{ info: TemplateInfo; cached: boolean }> {
    const spec: TemplateSpec = validateTemplateSpec(opts.spec);
    const files: Record<string, Uint8Array> = {};
    for (const [src, b64] of Object.entries(opts.contextFiles)) files[src] = Buffer.from(b64, 'base64');
    const { info, cached } = await buildTemplate({
      paths: this.paths,
      spec,
      contextFiles: files,
      signal: opts.signal,
      onEvent: opts.onEvent,
    });
    this.store.putTemplate({ name: opts.name, specHash: info.specHash, createdAtMs: Date.now() });
    return { info: { ...info, name: opts.name }, cached };
  }

  /** Wires image bases (`FROM registry/image`) for plan builds: pull + unpack. */
  useImageBases(resolve: ImageBases): void {
    this.imageBases = resolve;
  }

  /** Builds a Dockerfile (see {@link parseDockerfile}) and points `name` at the result. */
  async buildDockerfile(opts: {
    name: string;
    dockerfile: string;
    buildArgs?: Record<string, string>;
    /** Base64 file bytes and modes by context path. */
    context: Record<string, { data: string; mode?: number | undefined }>;
    onEvent: (event: TemplateBuildEvent) => void;
    signal: AbortSignal;
  }): Promise<{ info: TemplateInfo; cached: boolean }> {
    const plan = parseDockerfile(opts.dockerfile, {
      buildArgs: opts.buildArgs ?? {},
      isTemplate: (name) => this.store.getTemplate(name) !== undefined,
      baseConfig: (base) => {
        const template = base.kind === 'template' ? this.resolve(base.name) : undefined;
        return template && { env: template.env, workdir: template.workdir };
      },
    });
    const files = new Map<string, { data: Uint8Array; mode: number }>();
    for (const [path, file] of Object.entries(opts.context)) {
      files.set(path, { data: Buffer.from(file.data, 'base64'), mode: file.mode ?? 0o644 });
    }
    return this.buildPlan({ ...opts, plan, context: filterContext(files), source: { kind: 'dockerfile' } });
  }

  /** Builds (or reuses the cached layers and template of) a BuildPlan and points `name` at it. */
  async buildPlan(opts: {
    name: string;
    plan: BuildPlan;
    context: BuildContext;
    source: TemplateSource;
    onEvent: (event: TemplateBuildEvent) => void;
    signal: AbortSignal;
  }): Promise<{ info: TemplateInfo; cached: boolean }> {
    const resolveBase = templateBaseResolver({
      catalog: this,
      ...(this.imageBases === undefined ? {} : { images: this.imageBases }),
    });
    const { info, cached } = await buildPlan({
      paths: this.paths,
      plan: opts.plan,
      context: opts.context,
      resolveBase,
      source: opts.source,
      signal: opts.signal,
      emit: opts.onEvent,
    });
    this.store.putTemplate({ name: opts.name, specHash: info.specHash, createdAtMs: Date.now() });
    if (!cached) await pruneBuildCache(this.paths, { ...this.buildCacheLimits, signal: opts.signal });
    return { info: { ...info, name: opts.name }, cached };
  }

  /** Removes a name; its files go too when no other name or live sandbox uses them. */
  async remove(name: string): Promise<void> {
    const record = this.store.getTemplate(name);
    if (!record) throw new PaddockError('NOT_FOUND', `template '${name}' does not exist`, { template: name });
    const shared = this.store.listTemplates().some((t) => t.name !== name && t.specHash === record.specHash);
    if (!shared && this.hashesInUse().has(record.specHash)) {
      throw new PaddockError('CONFLICT', `template '${name}' is used by running sandboxes; kill them first`, {
        template: name,
      });
    }
    this.store.deleteTemplate(name);
    if (!shared) {
      this.metaCache.delete(record.specHash);
      await removeTemplateFiles(this.paths, record.specHash);
    }
  }
}
