import type { SandboxInfo } from '@paddock/protocol';
import type { Command } from 'commander';
import type { ConnectionOptions } from '../connection.js';
import { Sandbox } from '../sandbox.js';
import { Snapshot } from '../snapshots.js';
import { printJson, printTable } from './output.js';
import { collectPairs, parseNumber } from './parse.js';

type Conn = () => ConnectionOptions;

function report(info: SandboxInfo, json: boolean | undefined): void {
  if (json) printJson(info);
  else
    process.stdout.write(
      `${info.id} ${info.state}${info.processesRestarted ? ' (processes restarted: memory was not kept)' : ''}\n`,
    );
}

/** `paddock sandbox pause|resume|hibernate|snapshot|fork` and `paddock snapshot ls|rm`. */
export function registerStateCommands(program: Command, conn: Conn): void {
  const sandbox = program.commands.find((c) => c.name() === 'sandbox');
  if (!sandbox) throw new Error('register the sandbox commands first');
  sandbox
    .command('pause')
    .description('freeze a sandbox in RAM (resume takes milliseconds)')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => report(await handle(id, conn()).pause(), o.json));

  sandbox
    .command('resume')
    .description('resume a paused or hibernated sandbox')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => report(await handle(id, conn()).resume(), o.json));

  sandbox
    .command('hibernate')
    .description('write a sandbox to disk and free its RAM')
    .argument('<id>')
    .option('--no-keep-memory', 'keep only the filesystem (required for container sandboxes)')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { keepMemory: boolean; json?: boolean }) =>
      report(await handle(id, conn()).hibernate(o.keepMemory ? {} : { keepMemory: false }), o.json),
    );

  sandbox
    .command('snapshot')
    .description("save a sandbox's filesystem as a template")
    .argument('<id>')
    .requiredOption('-n, --name <name>', 'name of the new template')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { name: string; json?: boolean }) => {
      const snap = await handle(id, conn()).snapshot({ name: o.name });
      if (o.json) printJson(snap);
      else process.stdout.write(`${snap.name}\n`);
    });

  sandbox
    .command('fork')
    .description('start copies of a running gVisor sandbox with the same memory; prints their ids')
    .argument('<id>')
    .option('-c, --count <n>', 'how many', parseNumber, 1)
    .option('-m, --metadata <KEY=VALUE>', 'metadata label of the forks (repeatable)', collectPairs)
    .option('--json', 'print JSON')
    .action(async (id: string, o: { count: number; metadata?: Record<string, string>; json?: boolean }) => {
      const forks = await Sandbox.fork(id, {
        ...conn(),
        count: o.count,
        ...(o.metadata ? { metadata: o.metadata } : {}),
      });
      if (o.json) printJson(await Promise.all(forks.map((f) => f.getInfo())));
      else for (const f of forks) process.stdout.write(`${f.id}\n`);
    });

  const snapshot = program.command('snapshot').description('list and delete snapshots');
  snapshot
    .command('ls')
    .alias('list')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const list = await Snapshot.list(conn());
      if (o.json) printJson(list);
      else
        printTable(
          list.map((s) => ({
            name: s.name,
            base: s.baseTemplate,
            from: s.sandboxId,
            size: String(s.sizeBytes),
            created: s.createdAt,
          })),
          ['name', 'base', 'from', 'size', 'created'],
        );
    });
  snapshot
    .command('rm')
    .argument('<names...>')
    .action(async (names: string[]) => {
      for (const name of names) {
        await Snapshot.delete(name, conn());
        process.stdout.write(`${name}\n`);
      }
    });
}

/** A handle on a sandbox by id, without the resume that `Sandbox.connect` does. */
function handle(id: string, c: ConnectionOptions): Sandbox {
  return Sandbox.handle(id, c);
}
