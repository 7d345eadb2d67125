import type { Command } from 'commander';
import type { ConnectionOptions } from '../connection.js';
import { Volume } from '../volume.js';
import { printJson, printTable } from './output.js';
import { parseNumber } from './parse.js';

/** `paddock volume create|ls|rm`. */
export function registerVolumeCommands(program: Command, conn: () => ConnectionOptions): void {
  const volume = program.command('volume').alias('vol').description('named persistent volumes');
  volume
    .command('create')
    .description('create a volume')
    .argument('<name>')
    .requiredOption('-s, --size <MiB>', 'size cap in MiB', parseNumber)
    .action(async (name: string, o: { size: number }) => {
      await Volume.create({ ...conn(), name, sizeMiB: o.size });
      process.stdout.write(`${name}\n`);
    });
  volume
    .command('ls')
    .alias('list')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const list = await Volume.list(conn());
      if (o.json) printJson(list);
      else
        printTable(
          list.map((v) => ({ name: v.name, size: `${v.sizeMiB} MiB`, used: v.usedBy.join(','), created: v.createdAt })),
          ['name', 'size', 'used', 'created'],
        );
    });
  volume
    .command('rm')
    .description('delete volumes and their data (not while a sandbox mounts them)')
    .argument('<names...>')
    .action(async (names: string[]) => {
      for (const name of names) {
        await Volume.delete(name, conn());
        process.stdout.write(`${name}\n`);
      }
    });
}
