import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../core/logger.js';
import type { DataPaths } from '../paths.js';
import type { Store } from '../store/store.js';
import type { TemplateRegistry } from './registry.js';
import { parseTemplateSpec, specHash } from './spec.js';

/** The repo's `templates/` folder, where the built-in specs live. */
export const BUILTIN_SPECS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../templates');

/** Built-in templates the server makes sure exist at start (the set-up script pre-builds them). */
export const BUILTIN_TEMPLATES = ['base'] as const;

/**
 * Points each built-in name at the build of its current spec, building it when missing
 * (cached by content hash, so this is instant when already built).
 */
export async function ensureBuiltinTemplates(deps: {
  templates: TemplateRegistry;
  store: Store;
  paths: DataPaths;
  logger: Logger;
}): Promise<void> {
  for (const name of BUILTIN_TEMPLATES) {
    const spec = parseTemplateSpec(readFileSync(resolve(BUILTIN_SPECS_DIR, `${name}.yaml`), 'utf8'));
    const hash = specHash(spec);
    if (deps.store.getTemplate(name)?.specHash === hash && deps.templates.resolve(name)) continue;
    deps.logger.info({ template: name }, 'building built-in template (first start only)');
    await deps.templates.build({
      name,
      spec,
      contextFiles: {},
      signal: new AbortController().signal,
      onEvent: (event) => {
        if (event.type === 'progress') deps.logger.info({ template: name, step: event.step }, event.message);
      },
    });
  }
}
