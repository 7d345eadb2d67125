import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { ConnectionOptions } from '../connection.js';
import { attach } from './attach.js';
import { printJson, printTable } from './output.js';

type Conn = () => ConnectionOptions;

function parseOffset(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`expected a byte offset (0 or more), got '${value}'`);
  return n;
}

/** `paddock ps ID`, `paddock logs ID PROC_ID`, `paddock kill-process ID PROC_ID`. */
export function registerProcessCommands(program: Command, conn: Conn): void {
  program
    .command('ps')
    .description("list a sandbox's processes (running, and recently finished with exit codes)")
    .argument('<id>', 'sandbox id')
    .option('--json', 'print them as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const processes = await (await attach(id, conn(), 'never')).commands.list();
      if (o.json) return printJson(processes);
      printTable(
        processes.map((p) => ({
          id: p.id,
          pid: String(p.pid),
          status: p.running ? 'running' : `exited ${p.exitCode ?? ''}${p.signal ? ` (${p.signal})` : ''}`,
          started: p.startedAt,
          user: p.user,
          cmd: p.cmd,
        })),
        ['id', 'pid', 'status', 'started', 'user', 'cmd'],
      );
    });

  program
    .command('logs')
    .description("print a process's output from a byte offset; --follow waits for more until it exits")
    .argument('<id>', 'sandbox id')
    .argument('<process-id>', 'process id (see `paddock ps`)')
    .option('-f, --follow', 'keep printing new output until the process exits')
    .option('--from-offset <n>', 'combined-output byte offset to start at', parseOffset, 0)
    .action(async (id: string, processId: string, o: { follow?: boolean; fromOffset: number }) => {
      const sbx = await attach(id, conn(), 'never');
      const handle = await sbx.commands.connect(processId);
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort(new Error('interrupted')));
      // Without --follow, stop at the output that exists now.
      const endOffset = o.follow ? Number.POSITIVE_INFINITY : (await handle.getInfo()).endOffset;
      if (!o.follow && o.fromOffset >= endOffset) return;
      for await (const ev of handle.events(o.fromOffset, controller.signal)) {
        if (ev.type === 'stdout') process.stdout.write(ev.bytes);
        else if (ev.type === 'stderr') process.stderr.write(ev.bytes);
        else if (ev.type === 'truncated') {
          process.stderr.write(`paddock: bytes ${ev.fromOffset}-${ev.toOffset} were dropped from the buffer\n`);
        }
        if ((ev.type === 'stdout' || ev.type === 'stderr') && ev.offset + ev.bytes.length >= endOffset) break;
      }
      handle.disconnect();
    });

  program
    .command('kill-process')
    .description('signal a process; by default SIGKILL to everything it started')
    .argument('<id>', 'sandbox id')
    .argument('<process-id>', 'process id (see `paddock ps`)')
    .option('-s, --signal <name>', 'signal name, e.g. SIGTERM', 'SIGKILL')
    .option('--scope <scope>', 'tree (default), group or process', 'tree')
    .action(async (id: string, processId: string, o: { signal: string; scope: string }) => {
      const handle = await (await attach(id, conn(), 'auto')).commands.connect(processId);
      await handle.kill({ signal: o.signal as never, scope: o.scope as never });
    });
}
