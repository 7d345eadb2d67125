import type { Command } from 'commander';
import type { ConnectionOptions } from '../connection.js';
import { Sandbox } from '../sandbox.js';
import { attach } from './attach.js';
import { printJson, printTable } from './output.js';
import { parseDurationMs, parseNumber } from './parse.js';

type Conn = () => ConnectionOptions;

/** `paddock port url|public|ls`: exposed ports of a sandbox, through the public SDK. */
export function registerPortCommands(program: Command, conn: Conn): void {
  const port = program.command('port').description("reach a sandbox's ports from outside");

  port
    .command('url')
    .description('print a preview URL for a port, with a token that opens only that port until it expires')
    .argument('<id>')
    .argument('<port>', 'TCP port inside the sandbox (1-65535)', parseNumber)
    .option('-e, --expires <duration>', 'token lifetime, e.g. 30m, 1h, 7d (default 1h)', parseDurationMs)
    .option('--json', 'print the token, expiry, Host and routing headers as JSON')
    .action(async (id: string, portNumber: number, o: { expires?: number; json?: boolean }) => {
      const access = await Sandbox.handle(id, conn()).ports.access(
        portNumber,
        o.expires === undefined ? {} : { expiresInMs: o.expires },
      );
      if (o.json) printJson(access);
      else process.stdout.write(`${access.url}\n`);
    });

  port
    .command('public')
    .description('let a port be reached without a token (--off: require one again)')
    .argument('<id>')
    .argument('<port>', 'TCP port inside the sandbox (1-65535)', parseNumber)
    .option('--off', 'require a token again')
    .action(async (id: string, portNumber: number, o: { off?: boolean }) => {
      const sbx = Sandbox.handle(id, conn());
      await sbx.ports.setPublic(portNumber, o.off !== true);
      process.stdout.write(
        o.off === true ? `port ${portNumber} needs a token\n` : `http://${sbx.getHost(portNumber)}/ is public\n`,
      );
    });

  port
    .command('ls')
    .alias('list')
    .description('list the ports listening inside a sandbox, and the public ones')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const ports = await (await attach(id, conn(), 'never')).ports.list();
      if (o.json) printJson(ports);
      else
        printTable(
          ports.map((p) => ({
            port: String(p.port),
            listening: p.listening ? p.addresses.join(',') : '-',
            public: p.public ? 'yes' : 'no',
          })),
          ['port', 'listening', 'public'],
        );
    });
}
