import type { Command } from 'commander';
import type { ConnectionOptions } from '../connection.js';
import type { PtyHandle } from '../pty.js';
import { attach } from './attach.js';
import { reportError } from './output.js';
import { collectPairs } from './parse.js';

/**
 * `paddock shell ID [--cmd …]`: an interactive terminal in a sandbox. The local terminal is
 * put in raw mode (every key, Ctrl-C included, goes to the sandbox), window resizes are
 * passed on, and the CLI exits with the shell's exit status. The terminal is restored
 * however the session ends.
 */
export function registerShellCommand(program: Command, conn: () => ConnectionOptions): void {
  program
    .command('shell')
    .description("open an interactive terminal in a sandbox (the user's login shell unless --cmd)")
    .argument('<id>', 'sandbox id')
    .option('--cmd <command>', 'run this shell command line instead of the login shell')
    .option('--cwd <dir>', 'working directory')
    .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable)', collectPairs)
    .option('-u, --user <user>', 'user to run as (default: user)')
    .action(async (id: string, o: { cmd?: string; cwd?: string; env?: Record<string, string>; user?: string }) => {
      const sbx = await attach(id, conn(), 'auto');
      const restore = enterRawMode();
      try {
        const term = await sbx.pty.create({
          cols: process.stdout.columns || 80,
          rows: process.stdout.rows || 24,
          onData: (data) => process.stdout.write(data),
          ...(o.cmd !== undefined ? { cmd: o.cmd } : {}),
          ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
          ...(o.env !== undefined ? { env: o.env } : {}),
          ...(o.user !== undefined ? { user: o.user } : {}),
        });
        const stopForwarding = forwardTerminal(term);
        const exitCode = await term.wait().finally(stopForwarding);
        restore();
        await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
        process.exit(exitCode);
      } catch (err) {
        restore();
        reportError(err);
      }
    });
}

/** Raw mode on a local TTY; returns the function that puts the terminal back. */
function enterRawMode(): () => void {
  const stdin = process.stdin;
  if (!stdin.isTTY) return () => {};
  stdin.setRawMode(true);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    stdin.setRawMode(false);
  };
  // An unexpected exit must not leave the user's terminal raw.
  process.once('exit', restore);
  return restore;
}

/**
 * Sends keystrokes and resizes to the session. Keys typed while a send is in flight are
 * batched into the next one, so a fast typist or a paste costs few round trips and stays
 * in order.
 */
function forwardTerminal(term: PtyHandle): () => void {
  let pending: Buffer[] = [];
  let sending = false;
  const flush = async (): Promise<void> => {
    if (sending || pending.length === 0) return;
    sending = true;
    const data = Buffer.concat(pending);
    pending = [];
    try {
      await term.sendInput(data);
    } catch {
      // The session ended; wait() reports how.
    } finally {
      sending = false;
    }
    await flush();
  };
  const onInput = (chunk: Buffer) => {
    pending.push(chunk);
    void flush();
  };
  const onResize = () => {
    term.resize({ cols: process.stdout.columns || 80, rows: process.stdout.rows || 24 }).catch(() => {});
  };
  process.stdin.on('data', onInput);
  process.stdin.resume();
  process.stdout.on('resize', onResize);
  return () => {
    process.stdin.off('data', onInput);
    process.stdin.pause();
    process.stdout.off('resize', onResize);
  };
}
