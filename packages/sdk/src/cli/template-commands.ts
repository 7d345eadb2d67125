import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { TemplateBuildEvent, TemplateInfo, TemplateSpecInput } from '@paddock/protocol';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { ConnectionOptions } from '../connection.js';
import { Template } from '../templates.js';
import { printJson, printTable } from './output.js';
import { readContextDir } from './read-context.js';

/** `paddock template build|ls|rm`. */
export function registerTemplateCommands(program: Command, conn: () => ConnectionOptions): void {
  const template = program.command('template').description('build, list and remove templates');

  template
    .command('build')
    .description('build a template from a spec file (YAML or JSON) or a Dockerfile, showing progress')
    .argument('[spec]', 'spec file (omit with --dockerfile)')
    .requiredOption('-n, --name <name>', 'template name')
    .option('-f, --dockerfile <file>', 'build from a Dockerfile (FROM <template> starts from a Paddock template)')
    .option('--context <dir>', 'build context of the Dockerfile (default: its directory); .dockerignore is honoured')
    .option('--build-arg <K=V>', 'a value for an ARG of the Dockerfile (repeatable)', collect, [])
    .option('--json', 'print the template as JSON when done')
    .action(async (specFile: string | undefined, o: BuildCommandOptions) => {
      const started = Date.now();
      const onEvent = (ev: TemplateBuildEvent): void => {
        const t = `${((Date.now() - started) / 1000).toFixed(1)}s`.padStart(7);
        if (ev.type === 'progress') process.stderr.write(`${t} ${ev.message}\n`);
        else if (ev.type === 'log' && process.stderr.isTTY) process.stderr.write(`        ${ev.line}\n`);
      };
      let result: { template: TemplateInfo; cached: boolean };
      if (o.dockerfile !== undefined) {
        if (specFile !== undefined) throw new Error('give either a spec file or --dockerfile, not both');
        result = await Template.buildDockerfile(o.name, {
          ...conn(),
          requestTimeoutMs: 0,
          dockerfile: await readFile(o.dockerfile, 'utf8'),
          context: await readContextDir(o.context ?? dirname(o.dockerfile)),
          buildArgs: buildArgs(o.buildArg),
          onEvent,
        });
      } else {
        if (specFile === undefined) throw new Error('give a spec file or --dockerfile <file>');
        result = await buildSpec({ specFile, name: o.name, conn: conn(), onEvent });
      }
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

interface BuildCommandOptions {
  name: string;
  dockerfile?: string;
  context?: string;
  buildArg: string[];
  json?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function buildArgs(pairs: string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--build-arg ${pair}: give NAME=value`);
    args[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return args;
}

async function buildSpec(job: {
  specFile: string;
  name: string;
  conn: ConnectionOptions;
  onEvent: (ev: TemplateBuildEvent) => void;
}): Promise<{ template: TemplateInfo; cached: boolean }> {
  const text = await readFile(job.specFile, 'utf8');
  let spec: TemplateSpecInput;
  try {
    spec = parseYaml(text) as TemplateSpecInput;
  } catch (err) {
    throw new Error(`${job.specFile} is not valid YAML/JSON: ${(err as Error).message}`);
  }
  // Files named by `src` travel with the request, read relative to the spec file.
  const contextFiles: Record<string, Uint8Array> = {};
  for (const f of spec?.files ?? []) {
    if (typeof f.src === 'string') contextFiles[f.src] = await readFile(resolve(dirname(job.specFile), f.src));
  }
  return Template.build(job.name, spec, { ...job.conn, requestTimeoutMs: 0, contextFiles, onEvent: job.onEvent });
}
