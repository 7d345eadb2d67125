import type { EgressMode, Isolation, SandboxInfo, SandboxState, SecretsRequest } from '@paddock/protocol';
import type { Command } from 'commander';
import type { ConnectionOptions } from '../connection.js';
import { Sandbox } from '../sandbox.js';
import { attach } from './attach.js';
import { collectAllow } from './net-commands.js';
import { printJson, printTable } from './output.js';
import { collectPairs, parseDurationMs, parseNumber } from './parse.js';
import { applySecretFlags, collectSecret, collectSecretHeaders, collectSecretNames } from './secret-option.js';

type Conn = () => ConnectionOptions;

function rowOf(s: SandboxInfo): Record<string, string> {
  return {
    id: s.id,
    state: s.state,
    template: s.template,
    isolation: s.isolation,
    reason: s.reasonCode ?? '',
    created: s.createdAt,
    expires: s.expiresAt,
    metadata: Object.entries(s.metadata)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  };
}

/** `paddock sandbox create|ls|get|kill|set-timeout`. */
export function registerSandboxCommands(program: Command, conn: Conn): void {
  const sandbox = program.command('sandbox').alias('sbx').description('create, list, inspect and kill sandboxes');

  sandbox
    .command('create')
    .description('create a sandbox and print its id')
    .option('-t, --template <name>', 'template', 'base')
    .option('--timeout <duration>', 'lifetime before it is killed (e.g. 300000, 5m)', parseDurationMs)
    .option('--memory <MiB>', 'memory limit in MiB', parseNumber)
    .option('--cpus <n>', 'CPU limit', parseNumber)
    .option('--disk <MiB>', 'disk cap in MiB', parseNumber)
    .option('--isolation <kind>', 'container (crun) or gvisor (runsc)')
    .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable)', collectPairs)
    .option('-m, --metadata <KEY=VALUE>', 'metadata label (repeatable)', collectPairs)
    .option(
      '--secret <NAME=VALUE@HOSTS>',
      'secret sent only to these hosts (comma list); NAME@HOSTS reads $NAME (repeatable)',
      (raw: string, previous?: SecretsRequest) => collectSecret(raw, previous),
    )
    .option(
      '--secret-header <NAME=HEADERS>',
      "put the secret's value only in these request headers (comma list, e.g. API_KEY=authorization)",
      collectSecretHeaders,
    )
    .option(
      '--secret-insecure-http <NAME>',
      'also send the secret over plain HTTP (default: TLS only)',
      collectSecretNames,
    )
    .option('--egress <mode>', "egress: none, open or allowlist (default: the server's)")
    .option(
      '--allow <entry>',
      'allowed domain (*.suffix) or IPv4 CIDR, with an optional :port (repeatable)',
      collectAllow,
    )
    .option('--bandwidth <Mbit>', 'bandwidth cap per direction in Mbit/s', parseNumber)
    .option('--json', 'print the sandbox as JSON')
    .action(async (o: Record<string, unknown>) => {
      const network = {
        ...(o.egress !== undefined ? { egress: o.egress as EgressMode } : {}),
        ...(o.allow !== undefined ? { allow: o.allow as string[] } : {}),
        ...(o.bandwidth !== undefined ? { bandwidthMbit: o.bandwidth as number } : {}),
      };
      const secrets = applySecretFlags(o.secret as SecretsRequest | undefined, {
        headers: o.secretHeader as Record<string, string[]> | undefined,
        insecureHttp: o.secretInsecureHttp as string[] | undefined,
      });
      const sbx = await Sandbox.create({
        ...conn(),
        template: o.template as string,
        ...(o.timeout !== undefined ? { timeoutMs: o.timeout as number } : {}),
        ...(o.memory !== undefined ? { memoryMiB: o.memory as number } : {}),
        ...(o.cpus !== undefined ? { cpus: o.cpus as number } : {}),
        ...(o.disk !== undefined ? { diskMiB: o.disk as number } : {}),
        ...(o.isolation !== undefined ? { isolation: o.isolation as Isolation } : {}),
        ...(o.env !== undefined ? { env: o.env as Record<string, string> } : {}),
        ...(o.metadata !== undefined ? { metadata: o.metadata as Record<string, string> } : {}),
        ...(secrets !== undefined ? { secrets } : {}),
        ...(Object.keys(network).length > 0 ? { network } : {}),
      });
      if (o.json) printJson(await sbx.getInfo());
      else process.stdout.write(`${sbx.id}\n`);
    });

  sandbox
    .command('ls')
    .alias('list')
    .description('list sandboxes')
    .option('-m, --metadata <KEY=VALUE>', 'only sandboxes with this label (repeatable)', collectPairs)
    .option('-s, --state <states>', 'comma-separated states (default: live ones)')
    .option('--json', 'print JSON')
    .action(async (o: { metadata?: Record<string, string>; state?: string; json?: boolean }) => {
      const list = await Sandbox.list({
        ...conn(),
        ...(o.metadata ? { metadata: o.metadata } : {}),
        ...(o.state ? { state: o.state.split(',') as SandboxState[] } : {}),
      });
      if (o.json) printJson(list);
      else printTable(list.map(rowOf), ['id', 'state', 'reason', 'template', 'isolation', 'expires', 'metadata']);
    });

  sandbox
    .command('get')
    .description('show one sandbox')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      // Reading never resumes: a paused sandbox shows as paused.
      const info = await Sandbox.handle(id, conn()).getInfo();
      if (o.json) printJson(info);
      else {
        // The code for scripts, the text for people: `timeout (timeout expired)`.
        const reason = info.reasonCode ? `${info.reasonCode}${info.reason ? ` (${info.reason})` : ''}` : '';
        const row = { ...rowOf(info), reason };
        for (const [k, v] of Object.entries(row)) process.stdout.write(`${k.padEnd(10)} ${v}\n`);
      }
    });

  sandbox
    .command('kill')
    .description('kill sandboxes and free their resources')
    .argument('<ids...>')
    .action(async (ids: string[]) => {
      for (const id of ids) {
        const killed = await Sandbox.kill(id, conn());
        if (!killed) throw new Error(`sandbox '${id}' does not exist`);
        process.stdout.write(`${id}\n`);
      }
    });

  sandbox
    .command('set-timeout')
    .description('make a sandbox expire this long from now')
    .argument('<id>')
    .argument('<duration>', 'e.g. 600000, 10m, 2h', parseDurationMs)
    .option('--json', 'print JSON')
    .action(async (id: string, timeoutMs: number, o: { json?: boolean }) => {
      // A paused sandbox's expiry is its retention: refuse rather than resume and shorten it.
      const info = await (await attach(id, conn(), 'never')).setTimeout(timeoutMs);
      if (o.json) printJson(info);
      else process.stdout.write(`${id} expires at ${info.expiresAt}\n`);
    });
}
