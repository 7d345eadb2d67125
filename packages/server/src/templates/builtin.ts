import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../core/logger.js';
import type { Store } from '../core/seams/store.js';
import type { DataPaths } from '../paths.js';
import { readBuiltTemplate } from './layout.js';
import type { TemplateRegistry } from './registry.js';
import { asDebianSpec, parseTemplateSpec, specHash } from './spec.js';

/** The repo's `templates/` folder, where the built-in specs live. */
export const BUILTIN_SPECS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../templates');

/** Built-in templates the server makes sure exist at start (the set-up script pre-builds them). */
export const BUILTIN_TEMPLATES = ['base', 'code-interpreter'] as const;

/**
 * Built-ins that the server registers only when set-up has built them: `code-interpreter`
 * is ~1.4 GB and takes minutes, too long for a server start to wait on (scripts/setup.sh
 * builds it with progress; `paddock template build templates/code-interpreter.yaml` too).
 */
const BUILT_AT_SETUP_ONLY: ReadonlySet<string> = new Set(['code-interpreter']);

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
    const spec = asDebianSpec(parseTemplateSpec(readFileSync(resolve(BUILTIN_SPECS_DIR, `${name}.yaml`), 'utf8')));
    const hash = specHash(spec);
    if (deps.store.getTemplate(name)?.specHash === hash && deps.templates.resolve(name)) continue;
    if (BUILT_AT_SETUP_ONLY.has(name) && (await readBuiltTemplate(deps.paths, hash)) === undefined) {
      deps.logger.warn({ template: name }, `built-in template ${name} is not built; run scripts/setup.sh to build it`);
      continue;
    }
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
