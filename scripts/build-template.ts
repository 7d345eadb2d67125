/**
 * Builds one template spec into a data dir, printing progress. For set-up scripts; needs root.
 *
 *   npx tsx scripts/build-template.ts templates/base.yaml --data-dir /var/lib/paddock
 *
 * Prints the spec hash as the last line of stdout (progress goes to stderr). `--quiet` hides
 * the build's log lines; `--quiet-if-cached` prints nothing at all when the template is built.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { dataPaths } from '../packages/server/src/paths.js';
import { buildTemplate } from '../packages/server/src/templates/builder.js';
import { asDebianSpec, parseTemplateSpec } from '../packages/server/src/templates/spec.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'data-dir': { type: 'string' },
    quiet: { type: 'boolean', default: false },
    'quiet-if-cached': { type: 'boolean', default: false },
  },
});
const specFile = positionals[0];
const dataDir = values['data-dir'];
if (specFile === undefined || dataDir === undefined) {
  process.stderr.write('usage: build-template.ts <spec.yaml> --data-dir DIR [--quiet] [--quiet-if-cached]\n');
  process.exit(2);
}

const spec = asDebianSpec(parseTemplateSpec(await readFile(specFile, 'utf8')));
// `src` paths are relative to the spec file.
const contextFiles: Record<string, Uint8Array> = {};
for (const file of spec.files) {
  if (file.src !== undefined) contextFiles[file.src] = await readFile(resolve(dirname(specFile), file.src));
}

const controller = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => controller.abort(new Error(`${sig}`)));

const started = performance.now();
try {
  const { info, cached } = await buildTemplate({
    paths: dataPaths(resolve(dataDir)),
    spec,
    contextFiles,
    signal: controller.signal,
    onEvent: (event) => {
      const secs = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
      if (event.type === 'progress') process.stderr.write(`${secs}s [${event.step}] ${event.message}\n`);
      else if (event.type === 'log' && !values.quiet) process.stderr.write(`${secs}s   ${event.line}\n`);
    },
  });
  if (cached && values['quiet-if-cached']) process.exit(0);
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  const mib = (info.sizeBytes / 2 ** 20).toFixed(0);
  process.stderr.write(`${cached ? 'cached' : 'built'} template ${info.specHash} (${mib} MiB) in ${secs}s\n`);
  process.stdout.write(`${info.specHash}\n`);
} catch (err) {
  const code = err instanceof Error && 'code' in err ? `${String(err.code)}: ` : '';
  process.stderr.write(`build failed: ${code}${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
