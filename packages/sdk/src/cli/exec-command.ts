import type { Command } from 'commander';
import type { ConnectionOptions } from '../connection.js';
import { attach } from './attach.js';
import { collectPairs, parseDurationMs } from './parse.js';

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `paddock exec ID -- CMD ARGS…`: streams output and exits with the command's exit code. */
export function registerExecCommand(program: Command, conn: () => ConnectionOptions): void {
  program
    .command('exec')
    .description('run a command in a sandbox, stream its output, exit with its exit code')
    .argument('<id>', 'sandbox id')
    .argument('<command...>', 'program and arguments (put them after --)')
    .option('--cwd <dir>', 'working directory')
    .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable)', collectPairs)
    .option('-u, --user <user>', 'user to run as (default: user)')
    .option('--timeout <duration>', 'kill the command after this long (0 = never)', parseDurationMs)
    .option('-i, --stdin', "send this process's stdin to the command")
    .option('--shell', 'run the arguments as one shell command line')
    .option('--background', 'start it in the background and print its process id (see `paddock logs`)')
    .action(async (id: string, command: string[], o: Record<string, unknown>) => {
      const sbx = await attach(id, conn(), 'auto');
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort(new Error('interrupted')));
      const stdin = o.stdin ? await readStdin() : undefined;
      if (o.background) {
        const handle = await sbx.commands.run(o.shell ? command.join(' ') : command, {
          background: true,
          ...(o.cwd !== undefined ? { cwd: o.cwd as string } : {}),
          ...(o.env !== undefined ? { env: o.env as Record<string, string> } : {}),
          ...(o.user !== undefined ? { user: o.user as string } : {}),
          ...(o.timeout !== undefined ? { timeoutMs: o.timeout as number } : {}),
          ...(stdin ? { stdin } : {}),
        });
        process.stdout.write(`${handle.id}\n`);
        return;
      }
      const events = sbx.commands.stream(o.shell ? command.join(' ') : command, {
        signal: controller.signal,
        ...(o.cwd !== undefined ? { cwd: o.cwd as string } : {}),
        ...(o.env !== undefined ? { env: o.env as Record<string, string> } : {}),
        ...(o.user !== undefined ? { user: o.user as string } : {}),
        ...(o.timeout !== undefined ? { timeoutMs: o.timeout as number } : { timeoutMs: 0 }),
        ...(stdin ? { stdin } : {}),
      });
      let exitCode = 1;
      for await (const ev of events) {
        if (ev.type === 'stdout') process.stdout.write(ev.bytes);
        else if (ev.type === 'stderr') process.stderr.write(ev.bytes);
        else if (ev.type === 'exit') {
          exitCode = ev.exitCode;
          if (ev.timedOut) process.stderr.write('paddock: command timed out and was killed\n');
          if (ev.oomKilled) process.stderr.write('paddock: command was killed: out of memory\n');
        }
      }
      // Let stdout drain before exiting with the command's status.
      await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
      process.exit(exitCode);
    });
}
