import { PaddockError } from '@paddock/protocol';
import type { TemplateCatalog } from '../../core/templates.js';
import type { ExternalBase, ResolveBase, ResolvedBase } from './plan-keys.js';

/**
 * Bases from Paddock templates (key: the template's hash). Steps run as root unless a USER step
 * says otherwise; the template's sandbox user stays the result's default user. Image bases are
 * resolved by `images` when given; without it they are refused.
 */
export function templateBaseResolver(options: {
  catalog: Pick<TemplateCatalog, 'resolve'>;
  images?: (base: Extract<ExternalBase, { kind: 'image' }>, signal: AbortSignal) => Promise<ResolvedBase>;
}): ResolveBase {
  return async (base, signal) => {
    if (base.kind === 'image') {
      if (options.images !== undefined) return options.images(base, signal);
      throw new PaddockError('INVALID_ARGUMENT', `FROM ${base.ref}: image bases are not supported by this server yet`, {
        ref: base.ref,
      });
    }
    const template = options.catalog.resolve(base.name);
    if (template === undefined) {
      throw new PaddockError('NOT_FOUND', `FROM ${base.name}: template '${base.name}' does not exist`, {
        template: base.name,
      });
    }
    return {
      rootfs: template.rootfs,
      key: template.specHash,
      config: { env: template.env, workdir: template.workdir },
      sandboxUser: template.user,
    };
  };
}
