import type { AllowRule, EgressMode } from '@paddock/protocol';
import { HostCommandError, hostCommand } from '../runtime/host-command.js';
import { cidrRules } from './domain-rules.js';
import { hostBatch } from './host-batch.js';
import { ALWAYS_DENIED, formatRange, type Ipv4Range } from './ipv4.js';

/** What the firewall needs to know about one sandbox. */
export interface FirewallSandbox {
  sandboxId: string;
  veth: string;
  hostAddress: string;
  sandboxAddress: string;
  egress: EgressMode;
  rules: AllowRule[];
  /** TCP ports of the host address the egress proxy listens on for this sandbox. */
  proxyPorts: number[];
}

/** A refused connection the firewall recorded (the `recent` set keeps each for 10 minutes). */
export interface FirewallDenial {
  source: string;
  target: string;
  port: number;
  atMs: number;
}

const RECENT_TIMEOUT_S = 600;

/**
 * Egress enforcement in the host kernel: one nftables table per server (`inet
 * paddock_<cgroupParent>`, so concurrent servers never touch each other's rules) that
 * matches only packets from or to this server's veths, by name:
 * - input (sandbox → host): the sandbox's own host address on DNS and the egress proxy's
 *   ports; everything else (the API port, other host services) is refused;
 * - forward (sandbox → elsewhere): never host-local addresses, other sandboxes or the
 *   always-denied ranges (unless the operator allowed one), then `open` accepts, `allowlist`
 *   accepts its CIDR[:port] rules, and the rest is counted, recorded and refused;
 * - a connection cap per sandbox (`ct count`), no IPv6 at all, and masquerade on the way out.
 * Each sandbox has its own chains (`fw_`, `in_`, `deny_`), reached through verdict maps keyed
 * by the veth name; a policy change rewrites them in one atomic `nft -f` transaction.
 */
export class Firewall {
  readonly table: string;

  constructor(
    cgroupParent: string,
    private readonly options: { subnet: Ipv4Range; allowPrivate: Ipv4Range[]; maxConnections: number },
  ) {
    this.table = `paddock_${cgroupParent.replace(/-/g, '_')}`;
  }

  /** (Re)creates the table with exactly these sandboxes, atomically (server start and reconcile). */
  async rebuild(sandboxes: FirewallSandbox[], signal?: AbortSignal): Promise<void> {
    const t = `inet ${this.table}`;
    const blocked = ALWAYS_DENIED.map(formatRange).join(', ');
    const allowedPrivate = this.options.allowPrivate.map(formatRange).join(', ');
    const base = [
      // add + delete: removes a table left by an earlier run without failing when there is none.
      `add table ${t}`,
      `delete table ${t}`,
      `table ${t} {`,
      '  set vifs { type ifname; }',
      `  set blocked { type ipv4_addr; flags interval; auto-merge; elements = { ${blocked} } }`,
      `  set allowed_private { type ipv4_addr; flags interval; auto-merge; ${allowedPrivate ? `elements = { ${allowedPrivate} }` : ''} }`,
      '  set conncap { type ipv4_addr; flags dynamic; }',
      `  set recent { type ipv4_addr . ipv4_addr . inet_service; flags dynamic,timeout; timeout ${RECENT_TIMEOUT_S}s; size 65536; }`,
      '  map sbx_fwd { type ifname : verdict; }',
      '  map sbx_in { type ifname : verdict; }',
      '  chain input { type filter hook input priority filter; policy accept; iifname vmap @sbx_in; }',
      // Nothing outside may open a connection into a sandbox (exposed ports use the agent's tunnel).
      '  chain forward { type filter hook forward priority filter; policy accept; iifname vmap @sbx_fwd; oifname @vifs ct state established,related accept; oifname @vifs drop; }',
      '  chain postrouting { type nat hook postrouting priority srcnat; policy accept; iifname @vifs oifname != @vifs masquerade; }',
      '}',
    ];
    const script = [...base, ...sandboxes.flatMap((s) => this.sandboxCommands(s))].join('\n');
    await hostBatch('nft', ['-f', '-'], `${script}\n`, { signal, timeoutMs: 30_000 });
  }

  /** Adds or rewrites one sandbox's chains and map entries in one transaction. */
  async apply(sandbox: FirewallSandbox, signal?: AbortSignal): Promise<void> {
    await hostBatch('nft', ['-f', '-'], `${this.sandboxCommands(sandbox).join('\n')}\n`, { signal, timeoutMs: 30_000 });
  }

  /** The nft commands that add or rewrite one sandbox's chains (for a caller that batches them). */
  commands(s: FirewallSandbox): string {
    return this.sandboxCommands(s).join('\n');
  }

  /**
   * A shell snippet that removes one sandbox's pieces: all in one transaction, else (a piece
   * was missing, e.g. a half-made sandbox) one by one, ignoring the missing ones.
   */
  removalScript(sandboxId: string, veth: string): string {
    const steps = this.removalSteps(sandboxId, veth);
    const each = steps.map((step) => `nft ${step} 2>/dev/null || true`).join('\n');
    return `if ! nft -f - 2>/dev/null <<'PADDOCK_EOF'\n${steps.join('\n')}\nPADDOCK_EOF\nthen\n${each}\nfi`;
  }

  private removalSteps(sandboxId: string, veth: string): string[] {
    const t = `inet ${this.table}`;
    return [
      `delete element ${t} sbx_fwd { "${veth}" }`,
      `delete element ${t} sbx_in { "${veth}" }`,
      `delete element ${t} vifs { "${veth}" }`,
      `delete chain ${t} fw_${sandboxId}`,
      `delete chain ${t} in_${sandboxId}`,
      `delete chain ${t} deny_${sandboxId}`,
      `delete counter ${t} denied_${sandboxId}`,
    ];
  }

  private sandboxCommands(s: FirewallSandbox): string[] {
    const t = `inet ${this.table}`;
    const deny = `deny_${s.sandboxId}`;
    const fw = `fw_${s.sandboxId}`;
    const inp = `in_${s.sandboxId}`;
    const conncap =
      this.options.maxConnections > 0
        ? [`ct state new add @conncap { ip saddr ct count over ${this.options.maxConnections} } goto ${deny}`]
        : [];
    const policy =
      s.egress === 'open'
        ? ['accept']
        : s.egress === 'allowlist'
          ? cidrRules(s.rules).map(
              (r) =>
                `ip daddr ${r.address}/${r.prefixLength}${r.port === undefined ? '' : ` meta l4proto { tcp, udp } th dport ${r.port}`} accept`,
            )
          : [];
    const fwRules = [
      'meta nfproto ipv6 drop',
      'ct state established,related accept',
      `ip saddr != ${s.sandboxAddress} drop`,
      ...conncap,
      `fib daddr type local goto ${deny}`,
      `ip daddr ${formatRange(this.options.subnet)} goto ${deny}`,
      `ip daddr @blocked ip daddr != @allowed_private goto ${deny}`,
      ...policy,
      `goto ${deny}`,
    ];
    const tcpPorts = [53, ...s.proxyPorts].join(', ');
    const services =
      s.egress === 'none'
        ? []
        : [
            `ip daddr ${s.hostAddress} udp dport 53 accept`,
            ...conncap.map((rule) => `ip daddr ${s.hostAddress} tcp dport { ${tcpPorts} } ${rule}`),
            `ip daddr ${s.hostAddress} tcp dport { ${tcpPorts} } accept`,
          ];
    const inRules = ['meta nfproto ipv6 drop', 'ct state established,related accept', ...services, `goto ${deny}`];
    const denyRules = [
      'add @recent { ip saddr . ip daddr . th dport }',
      `counter name denied_${s.sandboxId}`,
      'meta l4proto tcp reject with tcp reset',
      'reject with icmpx admin-prohibited',
    ];
    const rules = (chain: string, list: string[]) => list.map((r) => `add rule ${t} ${chain} ${r}`);
    return [
      `add counter ${t} denied_${s.sandboxId}`,
      `add chain ${t} ${deny}`,
      `add chain ${t} ${fw}`,
      `add chain ${t} ${inp}`,
      `flush chain ${t} ${deny}`,
      `flush chain ${t} ${fw}`,
      `flush chain ${t} ${inp}`,
      ...rules(deny, denyRules),
      ...rules(fw, fwRules),
      ...rules(inp, inRules),
      `add element ${t} vifs { "${s.veth}" }`,
      `add element ${t} sbx_fwd { "${s.veth}" : jump ${fw} }`,
      `add element ${t} sbx_in { "${s.veth}" : jump ${inp} }`,
    ];
  }

  /** Removes one sandbox's map entries, chains and counter; tolerates pieces already gone. */
  async remove(sandboxId: string, veth: string): Promise<void> {
    const steps = this.removalSteps(sandboxId, veth);
    try {
      await hostBatch('nft', ['-f', '-'], `${steps.join('\n')}\n`, { timeoutMs: 30_000 });
    } catch {
      // Some piece was missing (a half-made sandbox): remove the rest one by one, in order.
      for (const step of steps) {
        await hostBatch('nft', ['-f', '-'], `${step}\n`, { timeoutMs: 30_000 }).catch(() => undefined);
      }
    }
  }

  /** Packets refused for this sandbox since its chains were made. */
  async deniedCount(sandboxId: string): Promise<number> {
    try {
      const out = await hostCommand('nft', ['-j', 'list', 'counter', 'inet', this.table, `denied_${sandboxId}`], {
        timeoutMs: 10_000,
      });
      const parsed = JSON.parse(out) as { nftables: { counter?: { packets: number } }[] };
      return parsed.nftables.find((entry) => entry.counter)?.counter?.packets ?? 0;
    } catch {
      return 0;
    }
  }

  /** Refusals of the last 10 minutes whose source is `sandboxAddress` (one per target and port). */
  async recentDenials(sandboxAddress: string): Promise<FirewallDenial[]> {
    let out: string;
    try {
      out = await hostCommand('nft', ['-j', 'list', 'set', 'inet', this.table, 'recent'], { timeoutMs: 10_000 });
    } catch {
      return [];
    }
    const parsed = JSON.parse(out) as {
      nftables: { set?: { elem?: { elem?: { val?: { concat?: unknown[] }; expires?: number } }[] } }[];
    };
    const now = Date.now();
    const denials: FirewallDenial[] = [];
    for (const entry of parsed.nftables) {
      for (const element of entry.set?.elem ?? []) {
        const [source, target, port] = element.elem?.val?.concat ?? [];
        if (source !== sandboxAddress || typeof target !== 'string' || typeof port !== 'number') continue;
        const ageS = RECENT_TIMEOUT_S - (element.elem?.expires ?? RECENT_TIMEOUT_S);
        denials.push({ source, target, port, atMs: now - ageS * 1000 });
      }
    }
    return denials.sort((a, b) => a.atMs - b.atMs);
  }

  /** Deletes the table (when the server stops with no sandbox networks left). */
  async drop(): Promise<void> {
    await hostCommand('nft', ['delete', 'table', 'inet', this.table], { timeoutMs: 30_000 }).catch((error: unknown) => {
      if (!(error instanceof HostCommandError && /No such file/i.test(error.stderr))) throw error;
    });
  }
}
