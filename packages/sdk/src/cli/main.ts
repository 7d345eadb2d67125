import { Command } from 'commander';
import type { ConnectionOptions } from '../connection.js';
import { registerCpCommand } from './cp-command.js';
import { registerExecCommand } from './exec-command.js';
import { registerNetCommands } from './net-commands.js';
import { reportError } from './output.js';
import { registerPortCommands } from './port-commands.js';
import { registerProcessCommands } from './process-commands.js';
import { registerRunCodeCommand } from './run-code-command.js';
import { registerSandboxCommands } from './sandbox-commands.js';
import { registerServeCommand } from './serve-command.js';
import { registerShellCommand } from './shell-command.js';
import { registerStateCommands } from './state-commands.js';
import { registerSyncCommand } from './sync-command.js';
import { registerTemplateCommands } from './template-commands.js';
import { registerVolumeCommands } from './volume-commands.js';

/** The `paddock` CLI, built only on the public SDK (plus `serve`, which loads the server). */
export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('paddock')
    .description('Paddock: isolated code sandboxes for AI agents')
    .option('--url <url>', 'server URL (default PADDOCK_URL or http://127.0.0.1:7070)')
    .option('--api-key <key>', 'API key (default PADDOCK_API_KEY)')
    .showHelpAfterError()
    .enablePositionalOptions();
  const conn = (): ConnectionOptions => {
    const o = program.opts<{ url?: string; apiKey?: string }>();
    return { ...(o.url ? { apiUrl: o.url } : {}), ...(o.apiKey ? { apiKey: o.apiKey } : {}) };
  };
  registerServeCommand(program);
  registerSandboxCommands(program, conn);
  registerStateCommands(program, conn);
  registerVolumeCommands(program, conn);
  registerExecCommand(program, conn);
  registerRunCodeCommand(program, conn);
  registerShellCommand(program, conn);
  registerProcessCommands(program, conn);
  registerPortCommands(program, conn);
  registerNetCommands(program, conn);
  registerCpCommand(program, conn);
  registerSyncCommand(program, conn);
  registerTemplateCommands(program, conn);
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    reportError(err);
  }
}
