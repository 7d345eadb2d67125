import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
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
import { resolveImageBase, unpackedImageDigests } from './image-base.js';
import { importImageArchive } from './image-import.js';
import { buildImageTemplate, imageLayoutDir } from './image-template.js';
import { collectImageGarbage } from './images/image-gc.js';
import { parseImageRef } from './images/image-ref.js';
import type { ImageSource, RegistryCredentials } from './images/image-types.js';
import { listBuiltTemplates } from './layout.js';
import type { BuildContext, BuildPlan } from './plan.js';
import { isDebianSpec, validateTemplateSpec } from './spec.js';
import { imageOverrides, specPlan } from './spec-plan.js';
import type { BuildNetworks } from './steps/build-network.js';
import { buildPlan, type ResolvedBase } from './steps/build-plan.js';
import { pruneBuildCache } from './steps/layer-cache.js';
import type { ExternalBase } from './steps/plan-keys.js';
import { templateBaseResolver } from './steps/template-base.js';

type BuiltMeta = Omit<TemplateInfo, 'name'>;

export interface TemplateRegistryDeps {
  paths: DataPaths;
  store: Store;
  /** Hashes still used by live sandboxes (a template in use cannot be removed). */
  hashesInUse: () => Set<string>;
  /** Networks for `RUN --network` build steps; without them such steps are refused. */
  buildNetworks?: BuildNetworks | undefined;
  /** Registries (`host[:port]`) pulled from over plain HTTP or with unchecked TLS, for every build. */
  insecureRegistries?: readonly string[];
}

/** One plan build: the plan, its context, where it came from and how to reach its images. */
interface PlanBuild {
  plan: BuildPlan;
  context: BuildContext;
  source: TemplateSource;
  registryAuth?: RegistryCredentials | undefined;
  insecureRegistry?: boolean;
  onEvent: (event: TemplateBuildEvent) => void;
  signal: AbortSignal;
}

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
  /** Limits of the step cache (`DATA/build-cache`), checked after each plan build. */
  buildCacheLimits = { maxAgeMs: BUILD_CACHE_MAX_AGE_MS, maxBytes: BUILD_CACHE_MAX_BYTES };

  private readonly paths: DataPaths;
  private readonly store: Store;
  private readonly hashesInUse: () => Set<string>;
  private readonly buildNetworks: BuildNetworks | undefined;
  private readonly insecureRegistries: ReadonlySet<string>;

  constructor(deps: TemplateRegistryDeps) {
    this.paths = deps.paths;
    this.store = deps.store;
    this.hashesInUse = deps.hashesInUse;
    this.buildNetworks = deps.buildNetworks;
    this.insecureRegistries = new Set(deps.insecureRegistries ?? []);
  }

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
      ...(meta.start ? { start: meta.start } : {}),
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
    registryAuth?: RegistryCredentials | undefined;
    onEvent: (event: TemplateBuildEvent) => void;
    signal: AbortSignal;
  }): Promise<{ info: TemplateInfo; cached: boolean }> {
    const spec: TemplateSpec = validateTemplateSpec(opts.spec);
    const files: Record<string, Uint8Array> = {};
    for (const [src, b64] of Object.entries(opts.contextFiles)) files[src] = Buffer.from(b64, 'base64');
    const { info, cached } = isDebianSpec(spec)
      ? await buildTemplate({
          paths: this.paths,
          spec,
          contextFiles: files,
          signal: opts.signal,
          onEvent: opts.onEvent,
        })
      : await this.buildOnBase(spec, opts);
    this.store.putTemplate({ name: opts.name, specHash: info.specHash, createdAtMs: Date.now() });
    return { info: { ...info, name: opts.name }, cached };
  }

  /** A spec `from` an image (or another template): the image as it is, or a plan of steps over it. */
  private async buildOnBase(
    spec: TemplateSpec,
    opts: {
      contextFiles: Record<string, string>;
      registryAuth?: RegistryCredentials | undefined;
      onEvent: (event: TemplateBuildEvent) => void;
      signal: AbortSignal;
    },
  ): Promise<{ info: BuiltMeta; cached: boolean }> {
    const from = spec.from;
    if (typeof from === 'object' && 'image' in from && spec.run.length === 0 && spec.files.length === 0) {
      const source: ImageSource = {
        kind: 'registry',
        ref: from.image,
        ...(from.insecure || this.isInsecure(from.image) ? { insecure: true } : {}),
        ...(opts.registryAuth ? { credentials: opts.registryAuth } : {}),
      };
      return buildImageTemplate({
        paths: this.paths,
        source,
        overrides: imageOverrides(spec),
        signal: opts.signal,
        emit: opts.onEvent,
      });
    }
    // Steps over the base: the spec's files and run steps as root, then its defaults.
    const images = this.imageBases(opts);
    const base: ExternalBase =
      typeof from === 'object' && 'image' in from
        ? { kind: 'image', ref: from.image, ...(from.insecure ? { insecure: true } : {}) }
        : { kind: 'template', name: typeof from === 'object' ? from.template : 'base' };
    const baseUser =
      base.kind === 'image' ? (await images(base, opts.signal)).config.user || 'root' : this.resolve(base.name)?.user;
    const { plan, context } = specPlan(spec, { base, files: opts.contextFiles, user: spec.user ?? baseUser ?? 'root' });
    const source: TemplateSource = base.kind === 'image' ? { kind: 'image', ref: base.ref } : { kind: 'dockerfile' };
    return this.runPlan({ ...opts, plan, context, source });
  }

  /** Whether the operator listed the registry of `ref` as insecure (`PADDOCK_INSECURE_REGISTRIES`). */
  private isInsecure(ref: string): boolean {
    if (this.insecureRegistries.size === 0) return false;
    try {
      return this.insecureRegistries.has(parseImageRef(ref).registry);
    } catch {
      return false;
    }
  }

  /**
   * Image bases of one build, with its credentials and `insecure`; memoized, so a spec that
   * looks at its image's config first does not pull twice.
   */
  private imageBases(access: { registryAuth?: RegistryCredentials | undefined; insecureRegistry?: boolean }) {
    const seen = new Map<string, Promise<ResolvedBase>>();
    return (base: Extract<ExternalBase, { kind: 'image' }>, signal: AbortSignal): Promise<ResolvedBase> => {
      const known = seen.get(base.ref);
      if (known) return known;
      const credentials = base.credentials ?? access.registryAuth;
      const resolved = resolveImageBase({
        paths: this.paths,
        base: {
          ...base,
          ...(base.insecure || access.insecureRegistry || this.isInsecure(base.ref) ? { insecure: true } : {}),
          ...(credentials ? { credentials } : {}),
        },
        signal,
      });
      seen.set(base.ref, resolved);
      return resolved;
    };
  }

  /** Makes a template from an uploaded `docker save` or OCI-layout tarball and names it. */
  async importArchive(opts: {
    name: string;
    archive: Readable;
    onEvent: (event: TemplateBuildEvent) => void;
    signal: AbortSignal;
  }): Promise<{ info: TemplateInfo; cached: boolean }> {
    const { info, cached } = await importImageArchive({
      paths: this.paths,
      archive: opts.archive,
      signal: opts.signal,
      emit: opts.onEvent,
    });
    this.store.putTemplate({ name: opts.name, specHash: info.specHash, createdAtMs: Date.now() });
    return { info: { ...info, name: opts.name }, cached };
  }

  /** Builds a Dockerfile (see {@link parseDockerfile}) and points `name` at the result. */
  async buildDockerfile(opts: {
    name: string;
    dockerfile: string;
    buildArgs?: Record<string, string>;
    /** Base64 file bytes and modes by context path. */
    context: Record<string, { data: string; mode?: number | undefined }>;
    registryAuth?: RegistryCredentials | undefined;
    insecureRegistry?: boolean;
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
  async buildPlan(opts: PlanBuild & { name: string }): Promise<{ info: TemplateInfo; cached: boolean }> {
    const { info, cached } = await this.runPlan(opts);
    this.store.putTemplate({ name: opts.name, specHash: info.specHash, createdAtMs: Date.now() });
    return { info: { ...info, name: opts.name }, cached };
  }

  private async runPlan(opts: PlanBuild): Promise<{ info: BuiltMeta; cached: boolean }> {
    const resolveBase = templateBaseResolver({ catalog: this, images: this.imageBases(opts) });
    const result = await buildPlan({
      paths: this.paths,
      plan: opts.plan,
      context: opts.context,
      resolveBase,
      source: opts.source,
      networks: this.buildNetworks,
      signal: opts.signal,
      emit: opts.onEvent,
    });
    if (!result.cached) await pruneBuildCache(this.paths, { ...this.buildCacheLimits, signal: opts.signal });
    return result;
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
      const wasImage = this.meta(record.specHash)?.source?.digest !== undefined;
      this.metaCache.delete(record.specHash);
      await removeTemplateFiles(this.paths, record.specHash);
      if (wasImage) await this.collectImageGarbage();
    }
  }

  /** Drops the shared layout's blobs that no built template's image uses any more. */
  private async collectImageGarbage(): Promise<void> {
    const keep = [
      ...(await listBuiltTemplates(this.paths)).flatMap((t) => (t.source?.digest ? [t.source.digest] : [])),
      ...(await unpackedImageDigests(this.paths)),
    ];
    await collectImageGarbage(imageLayoutDir(this.paths), keep);
  }
}
