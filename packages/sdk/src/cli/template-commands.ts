import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { TemplateSpecInput } from '@paddock/protocol';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { ConnectionOptions } from '../connection.js';
import { Template } from '../templates.js';
import { printJson, printTable } from './output.js';

/** `paddock template build|ls|rm`. */
export function registerTemplateCommands(program: Command, conn: () => ConnectionOptions): void {
  const template = program.command('template').description('build, list and remove templates');

  template
    .command('build')
    .description('build a template from a spec file (YAML or JSON), showing progress')
    .argument('<spec>', 'spec file')
    .requiredOption('-n, --name <name>', 'template name')
    .option('--json', 'print the template as JSON when done')
    .action(async (specFile: string, o: { name: string; json?: boolean }) => {
      const text = await readFile(specFile, 'utf8');
      let spec: TemplateSpecInput;
      try {
        spec = parseYaml(text) as TemplateSpecInput;
      } catch (err) {
        throw new Error(`${specFile} is not valid YAML/JSON: ${(err as Error).message}`);
      }
      // Files named by `src` travel with the request, read relative to the spec file.
      const contextFiles: Record<string, Uint8Array> = {};
      for (const f of spec?.files ?? []) {
        if (typeof f.src === 'string') contextFiles[f.src] = await readFile(resolve(dirname(specFile), f.src));
      }
      const started = Date.now();
      const result = await Template.build(o.name, spec, {
        ...conn(),
        requestTimeoutMs: 0,
        contextFiles,
        onEvent: (ev) => {
          const t = `${((Date.now() - started) / 1000).toFixed(1)}s`.padStart(7);
          if (ev.type === 'progress') process.stderr.write(`${t} ${ev.message}\n`);
          else if (ev.type === 'log' && process.stderr.isTTY) process.stderr.write(`        ${ev.line}\n`);
        },
      });
      if (o.json) printJson(result.template);
      else process.stdout.write(`${o.name} ${result.cached ? '(cached) ' : ''}${result.template.specHash}\n`);
    });

  template
    .command('ls')
    .alias('list')
    .description('list templates')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const list = await Template.list(conn());
      if (o.json) printJson(list);
      else
        printTable(
          list.map((t) => ({
            name: t.name,
            hash: t.specHash,
            size: `${(t.sizeBytes / 1_048_576).toFixed(0)} MiB`,
            created: t.createdAt,
          })),
          ['name', 'hash', 'size', 'created'],
        );
    });

  template
    .command('rm')
    .description('remove a template (refused while sandboxes use it)')
    .argument('<names...>')
    .action(async (names: string[]) => {
      for (const name of names) {
        await Template.remove(name, conn());
        process.stdout.write(`${name}\n`);
      }
    });
}
