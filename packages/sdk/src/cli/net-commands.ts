import type { EgressMode, NetworkStatus } from '@paddock/protocol';
import type { Command } from 'commander';
import type { ConnectionOptions } from '../connection.js';
import { attach } from './attach.js';
import { printJson, printTable } from './output.js';

type Conn = () => ConnectionOptions;

/** Repeatable `--allow ENTRY` (a comma list works too). */
export function collectAllow(raw: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...raw
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e !== ''),
  ];
}

function printStatus(status: NetworkStatus): void {
  const lines = [
    `egress:    ${status.egress}`,
    `allow:     ${status.allow.length > 0 ? status.allow.join(', ') : '-'}`,
    `address:   ${status.address ?? '- (no interface)'}`,
    `bandwidth: ${status.bandwidthMbit > 0 ? `${status.bandwidthMbit} Mbit/s` : 'no cap'}`,
    `denied:    ${status.deniedTotal}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (status.recentDenied.length === 0) return;
  process.stdout.write('\nrecent denied attempts:\n');
  printTable(
    status.recentDenied.map((d) => ({
      at: d.at,
      layer: d.layer,
      target: d.port === undefined ? d.target : `${d.target}:${d.port}`,
      reason: d.reason,
    })),
    ['at', 'layer', 'target', 'reason'],
  );
}

/** `paddock net ID` (policy and recent denied attempts) and `paddock net ID --egress/--allow` (live change). */
export function registerNetCommands(program: Command, conn: Conn): void {
  program
    .command('net')
    .description("show a sandbox's egress policy and recently denied attempts; --egress/--allow change it live")
    .argument('<id>')
    .option('--egress <mode>', 'none, open or allowlist')
    .option(
      '--allow <entry>',
      'allowed domain (*.suffix) or IPv4 CIDR, with an optional :port (repeatable)',
      collectAllow,
    )
    .option('--json', 'print JSON')
    .action(async (id: string, o: { egress?: string; allow?: string[]; json?: boolean }) => {
      const change = o.egress !== undefined || o.allow !== undefined;
      const { network } = await attach(id, conn(), change ? 'auto' : 'never');
      const status = change
        ? await network.update({
            ...(o.egress !== undefined ? { egress: o.egress as EgressMode } : {}),
            ...(o.allow !== undefined ? { allow: o.allow } : {}),
          })
        : await network.get();
      if (o.json) printJson(status);
      else printStatus(status);
    });
}
