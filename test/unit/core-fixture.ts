// What core's unit tests build their services from: a template the fake runtime never reads,
// a catalog of it, and sandbox ids in creation order.
import type { ResolvedTemplate, TemplateCatalog } from '../../packages/server/src/core/templates.js';

/** Template `base` (hash `hash-base`) with no rootfs: the fake runtime never reads one. */
export function fakeTemplate(env: Record<string, string> = {}): ResolvedTemplate {
  return {
    name: 'base',
    specHash: 'hash-base',
    rootfs: '/nonexistent/rootfs',
    env,
    workdir: '/home/user',
    user: 'user',
  };
}

/** Resolves `base` by name and by hash, and nothing else. */
export function catalogOf(template: ResolvedTemplate): TemplateCatalog {
  return {
    resolve: (name) => (name === template.name ? template : undefined),
    resolveHash: (hash) => (hash === template.specHash ? template : undefined),
  };
}

/** Ids `sbx00000000000000000`, `sbx00000000000000001`, … in creation order (20 chars like real ids). */
export function sequentialIds(): () => string {
  let n = 0;
  return () => `sbx${String(n++).padStart(17, '0')}`;
}
