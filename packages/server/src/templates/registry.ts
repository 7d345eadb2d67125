import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { PaddockError, type TemplateBuildEvent, type TemplateInfo, type TemplateSpec } from '@paddock/protocol';
import type { Store } from '../core/seams/store.js';
import type { ResolvedTemplate, TemplateCatalog } from '../core/templates.js';
import type { DataPaths } from '../paths.js';
import { buildTemplate, removeTemplateFiles } from './builder.js';
import { unpackedImageDigests } from './image-base.js';
import { importImageArchive } from './image-import.js';
import { buildImageTemplate, type ImageOverrides, imageLayoutDir } from './image-template.js';
import { collectImageGarbage } from './images/image-gc.js';
import type { ImageSource, RegistryCredentials } from './images/image-types.js';
import { listBuiltTemplates } from './layout.js';
import { isDebianSpec, validateTemplateSpec } from './spec.js';

type BuiltMeta = Omit<TemplateInfo, 'name'>;

/**
 * Names → built templates. Names live in the store; the built root filesystems live on
 * disk by content hash, so two names with the same spec share one build.
 */
export class TemplateRegistry implements TemplateCatalog {
  private readonly metaCache = new Map<string, BuiltMeta>();

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
      registryAuth?: RegistryCredentials | undefined;
      onEvent: (event: TemplateBuildEvent) => void;
      signal: AbortSignal;
    },
  ) {
    const from = spec.from;
    if (typeof from === 'object' && 'image' in from && spec.run.length === 0 && spec.files.length === 0) {
      const source: ImageSource = {
        kind: 'registry',
        ref: from.image,
        ...(from.insecure ? { insecure: true } : {}),
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
    throw new PaddockError('INVALID_ARGUMENT', 'run and files on an image base are not supported yet');
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

/** The spec fields that a template from an image sets over the image's own config. */
function imageOverrides(spec: TemplateSpec): ImageOverrides {
  return {
    ...(Object.keys(spec.env).length > 0 ? { env: spec.env } : {}),
    ...(spec.workdir ? { workdir: spec.workdir } : {}),
    ...(spec.user ? { user: spec.user } : {}),
    ...(spec.start ? { start: spec.start } : {}),
  };
}
