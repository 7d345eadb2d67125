import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { TemplateBuildEvent, TemplateInfo, TemplateSpecInput } from '@paddock/protocol';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { ConnectionOptions } from '../connection.js';
import { Template } from '../templates.js';
import { printJson, printTable } from './output.js';
import { type RegistryCredentialOptions, registryCredentials } from './registry-credentials.js';

interface TemplateBuildFlags extends RegistryCredentialOptions {
  name: string;
  fromImage?: string;
  dockerfile?: string;
  context?: string;
  buildArg: string[];
  insecure?: boolean;
  json?: boolean;
}

/** The spec to build: the spec file's, or one made from `--from-image`. */
async function specOf(specFile: string | undefined, o: TemplateBuildFlags) {
  const contextFiles: Record<string, Uint8Array> = {};
  if (o.fromImage !== undefined) {
    if (specFile !== undefined)
      throw new Error('give a spec file or --from-image, not both (a spec can say from: { image })');
    const spec: TemplateSpecInput = { from: { image: o.fromImage, ...(o.insecure ? { insecure: true } : {}) } };
    return { spec, contextFiles };
  }
  if (specFile === undefined) throw new Error('give a spec file or --from-image REF');
  const text = await readFile(specFile, 'utf8');
  let spec: TemplateSpecInput;
  try {
    spec = parseYaml(text) as TemplateSpecInput;
  } catch (err) {
    throw new Error(`${specFile} is not valid YAML/JSON: ${(err as Error).message}`);
  }
  // Files named by `src` travel with the request, read relative to the spec file.
  for (const f of spec?.files ?? []) {
    if (typeof f.src === 'string') contextFiles[f.src] = await readFile(resolve(dirname(specFile), f.src));
  }
  return { spec, contextFiles };
}

/**
 * Prints progress to stderr with the time since the start. On a terminal, repeated counts
 * of one step (pull, unpack bytes) overwrite one line; logs show only on a terminal.
 */
function progressPrinter(): (event: TemplateBuildEvent) => void {
  const started = Date.now();
  let lastStep = '';
  let lastPrintedMs = 0;
  return (ev) => {
    const t = `${((Date.now() - started) / 1000).toFixed(1)}s`.padStart(7);
    if (ev.type === 'log' && process.stderr.isTTY) process.stderr.write(`        ${ev.line}\n`);
    if (ev.type !== 'progress') return;
    const counting = ev.bytesDone !== undefined && ev.step === lastStep;
    if (counting && process.stderr.isTTY) {
      process.stderr.write(`\r\x1b[K${t} ${ev.message}`);
      return;
    }
    // Off a terminal, a count is worth a line every 2 s.
    if (counting && Date.now() - lastPrintedMs < 2_000) return;
    if (lastStep !== '' && process.stderr.isTTY) process.stderr.write('\n');
    process.stderr.write(`${t} ${ev.message}${process.stderr.isTTY ? '' : '\n'}`);
    lastStep = ev.step;
    lastPrintedMs = Date.now();
  };
}

function printBuilt(o: { name: string; json?: boolean }, result: { template: TemplateInfo; cached: boolean }): void {
  if (process.stderr.isTTY) process.stderr.write('\n');
  if (o.json) printJson(result.template);
  else process.stdout.write(`${o.name} ${result.cached ? '(cached) ' : ''}${result.template.specHash}\n`);
}

/** An archive file as it is; an OCI layout directory packed by tar on the way out. */
async function archiveStream(path: string): Promise<Readable> {
  if (!(await stat(path)).isDirectory()) return createReadStream(path);
  const tar = spawn('tar', ['-C', path, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  tar.on('exit', (code) => {
    if (code !== 0) tar.stdout.destroy(new Error(`tar of ${path} failed (exit ${code})`));
  });
  return tar.stdout;
}

import { readContextDir } from './read-context.js';

/** `paddock template build|ls|rm`. */
export function registerTemplateCommands(program: Command, conn: () => ConnectionOptions): void {
  const template = program.command('template').description('build, list and remove templates');

  template
    .command('build')
    .description('build a template from a spec file (YAML or JSON), an image or a Dockerfile, showing progress')
    .argument('[spec]', 'spec file (omit with --from-image or --dockerfile)')
    .requiredOption('-n, --name <name>', 'template name')
    .option('--from-image <ref>', 'an OCI/Docker image, e.g. registry:5000/team/agent:1.4 or python@sha256:…')
    .option('-f, --dockerfile <file>', 'build from a Dockerfile (FROM <template> starts from a Paddock template)')
    .option('--context <dir>', 'build context of the Dockerfile (default: its directory); .dockerignore is honoured')
    .option('--build-arg <K=V>', 'a value for an ARG of the Dockerfile (repeatable)', collect, [])
    .option('--insecure', 'allow a plain-HTTP or self-signed registry')
    .option('--username <user>', 'registry user (with --password-stdin)')
    .option('--password-stdin', 'read the registry password from stdin')
    .option('--authfile <path>', 'a docker config.json with registry logins (default ~/.docker/config.json)')
    .option('--json', 'print the template as JSON when done')
    .action(async (specFile: string | undefined, o: TemplateBuildFlags) => {
      const onEvent = progressPrinter();
      if (o.dockerfile !== undefined) {
        if (specFile !== undefined || o.fromImage !== undefined) {
          throw new Error('give one of a spec file, --from-image or --dockerfile');
        }
        const dockerfile = await readFile(o.dockerfile, 'utf8');
        const firstImage = /^\s*FROM\s+(?:--\S+\s+)*(\S+)/im.exec(dockerfile)?.[1];
        const registryAuth = firstImage === undefined ? undefined : await registryCredentials(firstImage, o);
        const result = await Template.buildDockerfile(o.name, {
          ...conn(),
          requestTimeoutMs: 0,
          dockerfile,
          context: await readContextDir(o.context ?? dirname(o.dockerfile)),
          buildArgs: buildArgs(o.buildArg),
          ...(registryAuth ? { registryAuth } : {}),
          ...(o.insecure ? { insecureRegistry: true } : {}),
          onEvent,
        });
        printBuilt(o, result);
        return;
      }
      const { spec, contextFiles } = await specOf(specFile, o);
      const image = typeof spec.from === 'object' && 'image' in spec.from ? spec.from.image : undefined;
      const registryAuth = image === undefined ? undefined : await registryCredentials(image, o);
      const result = await Template.build(o.name, spec, {
        ...conn(),
        requestTimeoutMs: 0,
        contextFiles,
        ...(registryAuth ? { registryAuth } : {}),
        onEvent,
      });
      printBuilt(o, result);
    });

  template
    .command('import')
    .description('make a template from a `docker save` tarball or an OCI layout (tar or directory)')
    .argument('<archive>', 'image archive or OCI layout directory')
    .requiredOption('-n, --name <name>', 'template name')
    .option('--json', 'print the template as JSON when done')
    .action(async (archive: string, o: { name: string; json?: boolean }) => {
      const result = await Template.import(o.name, await archiveStream(archive), {
        ...conn(),
        requestTimeoutMs: 0,
        onEvent: progressPrinter(),
      });
      printBuilt(o, result);
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
