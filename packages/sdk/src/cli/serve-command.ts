import type { Command } from 'commander';
import { parseNumber } from './parse.js';

interface ServerModule {
  runServer(overrides: Record<string, unknown>): Promise<void>;
}

/**
 * `paddock serve`: starts the server in this process. The server is a separate workspace
 * package, loaded only here, so SDK users never pull it in.
 */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('start the Paddock server (default 127.0.0.1:7070)')
    .option('-p, --port <port>', 'port to listen on', parseNumber)
    .option('--host <host>', 'address to listen on')
    .option('-d, --data-dir <dir>', 'where state, templates and sandboxes live')
    .option('--api-key <key>', 'accept this API key (default PADDOCK_API_KEY; else one is generated on first start)')
    .option(
      '--api-key-format <format>',
      "format of the key generated on first start: 'paddock' or 'e2b' (e2b_ + hex, for the E2B SDKs; default PADDOCK_API_KEY_FORMAT)",
    )
    .option('--pool-size <n>', 'warm sandboxes kept ready for the base template', parseNumber)
    .option('--log-level <level>', 'pino log level')
    .action(async (o: Record<string, unknown>) => {
      const specifier = '@paddock/server';
      let server: ServerModule;
      try {
        server = (await import(specifier)) as ServerModule;
      } catch (err) {
        throw new Error(
          `the Paddock server is not installed here (${(err as Error).message}); run the README's set-up`,
        );
      }
      await server.runServer({
        ...(o.port !== undefined ? { port: o.port } : {}),
        ...(o.host !== undefined ? { host: o.host } : {}),
        ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
        ...(o.apiKey !== undefined ? { apiKey: o.apiKey } : {}),
        ...(o.apiKeyFormat !== undefined ? { apiKeyFormat: o.apiKeyFormat } : {}),
        ...(o.poolSize !== undefined ? { poolSize: o.poolSize } : {}),
        ...(o.logLevel !== undefined ? { logLevel: o.logLevel } : {}),
      });
    });
}
