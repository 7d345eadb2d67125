import { posix, resolve } from 'node:path';
import type { Command } from 'commander';
import type { ConnectionOptions } from '../connection.js';
import { type PassResult, SyncSession } from '../sync/session.js';
import { attach } from './attach.js';
import { parseCopyEndpoint } from './parse.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function summary(r: PassResult): string {
  return `synced: ${r.pushed} pushed, ${r.pulled} pulled, ${r.deleted} deleted, ${r.renamed} renamed, ${r.conflicts} conflicts`;
}

/**
 * `paddock sync LOCAL_DIR ID:/path [--watch] [--ignore PATTERN]…`: two-way sync of a local
 * directory and a sandbox directory (docs/sync.md), once or continuously. Actions go to
 * stdout, conflicts and notes to stderr.
 */
export function registerSyncCommand(program: Command, conn: () => ConnectionOptions): void {
  program
    .command('sync')
    .description('two-way sync of a local directory and a sandbox directory (see docs/sync.md)')
    .argument('<local-dir>', 'directory on this machine (created if missing)')
    .argument('<remote>', 'sandbox directory as ID:/absolute/path (created if missing)')
    .option('-w, --watch', 'keep syncing changes on both sides until interrupted')
    .option(
      '--ignore <pattern>',
      'also ignore paths matching this pattern (repeatable; .git and node_modules always are)',
      collect,
    )
    .action(async (localDir: string, remoteSpec: string, o: { watch?: boolean; ignore?: string[] }) => {
      const remote = parseCopyEndpoint(remoteSpec);
      if (!('sandboxId' in remote)) {
        throw new Error(`the second argument must be a sandbox directory as ID:/absolute/path, got '${remoteSpec}'`);
      }
      const sbx = await attach(remote.sandboxId, conn(), 'auto');
      const session = await SyncSession.open({
        files: sbx.files,
        localRoot: resolve(localDir),
        target: { sandboxId: remote.sandboxId, path: posix.resolve(remote.path) },
        ignore: o.ignore ?? [],
        log: (line) => process.stdout.write(`${line}\n`),
        warn: (line) => process.stderr.write(`${line}\n`),
      });
      if (!o.watch) {
        process.stderr.write(`${summary(await session.syncOnce())}\n`);
        return;
      }
      const controller = new AbortController();
      const stop = () => controller.abort(new Error('interrupted'));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      let first = true;
      await session.watch(controller.signal, (result) => {
        process.stderr.write(`${summary(result)}\n`);
        if (first) process.stderr.write('watching both sides for changes (Ctrl-C to stop)\n');
        first = false;
      });
    });
}
