import type { TemplateStart } from '@paddock/protocol';

/** What core needs to know about a template to start sandboxes from it. */
export interface ResolvedTemplate {
  name: string;
  specHash: string;
  /** Read-only root filesystem on the host. */
  rootfs: string;
  env: Record<string, string>;
  workdir: string;
  user: string;
  /** Read-only layers above `rootfs`, topmost first (a snapshot's). */
  layers?: string[];
  /** The process every fresh boot starts, and how to know it is ready (see template-start.ts). */
  start?: TemplateStart;
}

/** Looks templates up by name; implemented over the store and the built templates on disk. */
export interface TemplateCatalog {
  resolve(name: string): ResolvedTemplate | undefined;
  /** Same, by content hash (sandboxes keep the hash they were created from). */
  resolveHash(specHash: string): ResolvedTemplate | undefined;
}
