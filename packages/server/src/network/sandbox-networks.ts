import { join } from 'node:path';
import {
  type AllowRule,
  type Isolation,
  type NetworkInfo,
  type NetworkRequest,
  type NetworkStatus,
  PaddockError,
  parseAllowEntry,
  type UpdateNetworkRequest,
} from '@paddock/protocol';
import { KeyedQueue } from '../core/keyed-queue.js';
import type { Logger } from '../core/logger.js';
import type { NetworkPlan, SandboxNetworks } from '../core/network-plan.js';
import type { NetworkAttachment } from '../core/seams/runtime.js';
import type { NetworkRecord, NetworkStore, SecretRule } from '../core/seams/store.js';
import { isMountPoint } from '../runtime/mounts.js';
import { DeniedLog } from './denied-log.js';
import { SandboxResolver } from './dns-resolver.js';
import { DEFAULT_DOMAIN_PORTS, domainAllows, proxyPorts } from './domain-rules.js';
import type { DeniedAttempt, EgressPolicyOracle, EgressProxy, EgressVerdict } from './egress-contract.js';
import { addressDenial, nameVerdict } from './egress-policy.js';
import { Firewall, type FirewallSandbox } from './firewall.js';
import { ipv4ToNumber, numberToIpv4 } from './ipv4.js';
import type { NetworkConfig } from './network-config.js';
import { NetworkFiles } from './network-files.js';
import { createInterface, removeInterface, setBandwidth, vethName } from './sandbox-interface.js';
import { UplinkForwarding } from './uplink.js';

export interface SandboxNetworkDeps {
  config: NetworkConfig;
  /** Server data dir: per-sandbox files live in `<dataDir>/network/<id>/`. */
  dataDir: string;
  /** The network records (the network layer is their only user). */
  store: NetworkStore;
  /** Names the nftables table, so that servers with different parents never share one. */
  cgroupParent: string;
  proxy: EgressProxy;
  logger: Logger;
}

/** One sandbox with an interface, as kept in memory. */
interface Live {
  record: NetworkRecord;
  rules: AllowRule[];
  veth: string;
  hostAddress: string;
  sandboxAddress: string;
  secrets: SecretRule[];
  resolver: SandboxResolver | undefined;
  proxyAttached: boolean;
}

/**
 * Every sandbox's own network stack: netns + veth + /30 (`sandbox-interface.ts`), the
 * server's nftables table (`firewall.ts`), a DNS resolver per sandbox (`dns-resolver.ts`)
 * and the egress proxy's attachment; and the policy oracle the proxy asks.
 * Records live in SQLite, so a restarted server rebuilds table and resolvers for live sandboxes.
 */
export class SandboxNetworkService implements SandboxNetworks, EgressPolicyOracle {
  private readonly store: NetworkStore;
  private readonly firewall: Firewall;
  private readonly denied = new DeniedLog();
  private readonly live = new Map<string, Live>();
  private readonly files: NetworkFiles;
  private readonly uplink: UplinkForwarding;
  private readonly slotBase: number;
  private readonly slotCount: number;
  /** Secrets handed in by the create path (netb), per sandbox, until the sandbox is gone. */
  private readonly secrets = new Map<string, SecretRule[]>();
  /** Serializes changes per sandbox: a live update never interleaves with another or with down. */
  private readonly queue = new KeyedQueue();

  constructor(private readonly deps: SandboxNetworkDeps) {
    this.store = deps.store;
    this.firewall = new Firewall(deps.cgroupParent, deps.config);
    this.files = new NetworkFiles(join(deps.dataDir, 'network'));
    this.uplink = new UplinkForwarding(deps.config.uplink, deps.logger);
    this.slotBase = ipv4ToNumber(deps.config.subnet.address);
    this.slotCount = 2 ** (32 - deps.config.subnet.prefixLength) / 4;
  }

  get tableName(): string {
    return this.firewall.table;
  }

  /**
   * Server start: rebuilds the table for the sandboxes in `liveIds` that have a network,
   * removes the networks of every other stored sandbox, starts resolvers and proxy attachments.
   */
  async start(liveIds: ReadonlySet<string>): Promise<void> {
    await this.files.init();
    const records = this.store.list();
    const keep = records.filter((r) => liveIds.has(r.sandboxId));
    for (const record of keep) if (record.slot !== null) this.remember(record);
    await this.firewall.rebuild([...this.live.values()].map((l) => this.firewallView(l)));
    for (const record of records.filter((r) => !liveIds.has(r.sandboxId))) await this.down(record.sandboxId);
    for (const name of await this.files.ids()) {
      if (!keep.some((r) => r.sandboxId === name)) await this.files.remove(name);
    }
    for (const live of this.live.values()) {
      await this.restoreInterface(live);
      await this.startServices(live);
    }
  }

  /**
   * After a host reboot a kept sandbox's netns is a plain file and its veth is gone (only
   * hibernated sandboxes outlive a reboot): make them again, with the same addresses, before
   * anything starts in them. The table was rebuilt just before.
   */
  private async restoreInterface(live: Live): Promise<void> {
    const sandboxId = live.record.sandboxId;
    const paths = this.files.pathsOf(sandboxId);
    if (await isMountPoint(paths.netns)) return;
    this.deps.logger.warn({ sandboxId }, 'the sandbox network is gone (host reboot?): making it again');
    await removeInterface({ veth: live.veth, netnsPath: paths.netns });
    await this.files.write(sandboxId, live);
    await createInterface(
      { veth: live.veth, netnsPath: paths.netns, hostAddress: live.hostAddress, sandboxAddress: live.sandboxAddress },
      { bandwidthMbit: live.record.bandwidthMbit },
    );
  }

  /** Stops the resolvers (the server closes the proxy); the table stays while any sandbox network does. */
  async close(): Promise<void> {
    for (const live of this.live.values()) await live.resolver?.stop();
    if (this.store.list().length === 0) await this.firewall.drop();
  }

  plan(request: NetworkRequest | undefined, isolation: Isolation): NetworkPlan {
    void isolation;
    return {
      egress: request?.egress ?? this.deps.config.defaultEgress,
      allow: request?.allow ?? [],
      bandwidthMbit: request?.bandwidthMbit ?? this.deps.config.bandwidthMbit,
    };
  }

  poolable(plan: NetworkPlan, isolation: Isolation): boolean {
    // A gVisor spare runs without any interface (`--network=none`); only crun spares can be opened.
    return isolation === 'container' || plan.egress === 'none';
  }

  up(sandboxId: string, isolation: Isolation, plan: NetworkPlan, signal?: AbortSignal) {
    return this.serial(sandboxId, async (): Promise<NetworkAttachment | undefined> => {
      const withInterface = isolation === 'container' || plan.egress !== 'none';
      if (plan.secrets) this.secrets.set(sandboxId, plan.secrets);
      const policy = { egress: plan.egress, allow: plan.allow, bandwidthMbit: plan.bandwidthMbit };
      const slot = this.store.insert({ sandboxId, ...policy }, withInterface, this.slotCount);
      if (slot === null) return undefined;
      const record: NetworkRecord = { sandboxId, slot, ...policy };
      const live = this.remember(record);
      const files = this.files.pathsOf(sandboxId);
      try {
        await this.files.write(sandboxId, live);
        // One shell run: rules first (the interface never exists without them), then netns and veth.
        await createInterface(
          {
            veth: live.veth,
            netnsPath: files.netns,
            hostAddress: live.hostAddress,
            sandboxAddress: live.sandboxAddress,
          },
          { firewall: this.firewall.commands(this.firewallView(live)), bandwidthMbit: plan.bandwidthMbit },
          signal,
        );
        await this.startServices(live);
      } catch (error) {
        await this.teardown(sandboxId).catch((cleanup: unknown) =>
          this.deps.logger.error({ err: cleanup, sandboxId }, 'network cleanup after a failed create failed'),
        );
        throw error;
      }
      return { netnsPath: files.netns, resolvConf: files.resolvConf, hosts: files.hosts };
    });
  }

  apply(sandboxId: string, plan: NetworkPlan, signal?: AbortSignal): Promise<void> {
    return this.serial(sandboxId, () => this.applyNow(sandboxId, plan, signal));
  }

  update(sandboxId: string, change: UpdateNetworkRequest, signal?: AbortSignal): Promise<void> {
    return this.serial(sandboxId, async () => {
      const record = this.store.get(sandboxId);
      if (!record) {
        throw new PaddockError(
          'NOT_FOUND',
          `sandbox '${sandboxId}' has no network (it was created before networks existed)`,
        );
      }
      const egress = change.egress ?? record.egress;
      if (record.slot === null && egress !== 'none') {
        throw new PaddockError(
          'CONFLICT',
          `sandbox '${sandboxId}' was created without a network (gVisor with egress 'none' runs with --network=none): create it with network.egress '${egress}' to change its egress later`,
          { field: 'egress', sandboxId },
        );
      }
      await this.applyNow(
        sandboxId,
        { egress, allow: change.allow ?? record.allow, bandwidthMbit: record.bandwidthMbit },
        signal,
      );
    });
  }

  private async applyNow(sandboxId: string, plan: NetworkPlan, signal?: AbortSignal): Promise<void> {
    const record = this.store.get(sandboxId);
    if (!record) throw new Error(`sandbox ${sandboxId} has no network record`);
    const next: NetworkRecord = {
      ...record,
      egress: plan.egress,
      allow: plan.allow,
      bandwidthMbit: plan.bandwidthMbit,
    };
    this.store.updatePolicy(sandboxId, next);
    const live = this.live.get(sandboxId);
    if (!live) return;
    const bandwidthChanged = live.record.bandwidthMbit !== next.bandwidthMbit;
    if (plan.secrets) {
      this.secrets.set(sandboxId, plan.secrets);
      live.secrets = plan.secrets;
    }
    live.record = next;
    live.rules = parseRules(next.allow);
    await this.firewall.apply(this.firewallView(live), signal);
    if (bandwidthChanged) {
      await setBandwidth(
        { veth: live.veth, netnsPath: this.files.pathsOf(sandboxId).netns },
        next.bandwidthMbit,
        signal,
      );
    }
    await this.startServices(live);
  }

  down(sandboxId: string): Promise<void> {
    return this.serial(sandboxId, () => this.teardown(sandboxId));
  }

  private async teardown(sandboxId: string): Promise<void> {
    const live = this.live.get(sandboxId);
    const record = this.store.get(sandboxId);
    if (live) {
      await live.resolver?.stop();
      live.resolver = undefined;
      if (live.proxyAttached) await this.deps.proxy.detach(sandboxId);
    }
    const veth = vethName(sandboxId);
    if (live || (record && record.slot !== null)) {
      await removeInterface(
        { veth, netnsPath: this.files.pathsOf(sandboxId).netns },
        this.firewall.removalScript(sandboxId, veth),
      );
    }
    await this.files.remove(sandboxId);
    this.live.delete(sandboxId);
    this.secrets.delete(sandboxId);
    this.denied.forget(sandboxId);
    this.store.delete(sandboxId);
  }

  /** `SandboxInfo.network`, or undefined for a sandbox with no record. */
  info(sandboxId: string): NetworkInfo | undefined {
    const record = this.live.get(sandboxId)?.record ?? this.store.get(sandboxId);
    if (!record) return undefined;
    const address = record.slot === null ? undefined : this.addressesOf(record.slot).sandboxAddress;
    return { egress: record.egress, allow: record.allow, ...(address ? { address } : {}) };
  }

  /** Whether the sandbox runs gVisor on the host network stack (no checkpoints). */
  usesHostStack(sandboxId: string, isolation: Isolation): boolean {
    return isolation === 'gvisor' && (this.store.get(sandboxId)?.slot ?? null) !== null;
  }

  async status(sandboxId: string): Promise<NetworkStatus | undefined> {
    const info = this.info(sandboxId);
    const record = this.store.get(sandboxId);
    if (!info || !record) return undefined;
    const logged = this.denied.of(sandboxId);
    let firewallCount = 0;
    let firewallRecent: DeniedAttempt[] = [];
    if (info.address) {
      firewallCount = await this.firewall.deniedCount(sandboxId);
      firewallRecent = (await this.firewall.recentDenials(info.address)).map((d) => ({
        at: new Date(d.atMs).toISOString(),
        layer: 'firewall' as const,
        target: d.target,
        port: d.port,
        reason: this.firewallReason(d.target),
      }));
    }
    const recent = [...logged.recent, ...firewallRecent].sort((a, b) => a.at.localeCompare(b.at)).slice(-100);
    return {
      ...info,
      bandwidthMbit: record.bandwidthMbit,
      deniedTotal: logged.total + firewallCount,
      recentDenied: recent,
    };
  }

  // --- EgressPolicyOracle: the egress proxy asks on every connection ---

  checkName(sandboxId: string, host: string, port: number): EgressVerdict {
    const live = this.live.get(sandboxId);
    if (!live) return { allowed: false, reason: 'the sandbox has no network' };
    return nameVerdict(live.record.egress, live.rules, host, port);
  }

  checkAddress(sandboxId: string, address: string, port: number): EgressVerdict {
    void port;
    if (!this.live.has(sandboxId)) return { allowed: false, reason: 'the sandbox has no network' };
    const reason = addressDenial(address, this.deps.config);
    return reason ? { allowed: false, reason } : { allowed: true };
  }

  recordDenied(sandboxId: string, attempt: DeniedAttempt): void {
    this.denied.record(sandboxId, attempt);
  }

  // --- internals ---

  private firewallReason(target: string): string {
    return addressDenial(target, this.deps.config) ?? 'not allowed by the egress policy';
  }

  private remember(record: NetworkRecord): Live {
    if (record.slot === null) throw new Error(`sandbox ${record.sandboxId} has no interface`);
    const live: Live = {
      record,
      rules: parseRules(record.allow),
      veth: vethName(record.sandboxId),
      ...this.addressesOf(record.slot),
      secrets: this.secrets.get(record.sandboxId) ?? [],
      resolver: undefined,
      proxyAttached: false,
    };
    this.live.set(record.sandboxId, live);
    return live;
  }

  private addressesOf(slot: number): { hostAddress: string; sandboxAddress: string } {
    const base = this.slotBase + slot * 4;
    return { hostAddress: numberToIpv4(base + 1), sandboxAddress: numberToIpv4(base + 2) };
  }

  private proxyPortsOf(live: Live): number[] {
    if (live.record.egress === 'allowlist') return proxyPorts(live.rules);
    if (live.record.egress === 'open' && live.secrets.length > 0) return [...DEFAULT_DOMAIN_PORTS];
    return [];
  }

  private firewallView(live: Live): FirewallSandbox {
    return {
      sandboxId: live.record.sandboxId,
      veth: live.veth,
      hostAddress: live.hostAddress,
      sandboxAddress: live.sandboxAddress,
      egress: live.record.egress,
      rules: live.rules,
      proxyPorts: this.proxyPortsOf(live),
    };
  }

  /** Starts or stops the resolver and the proxy attachment to match the live policy. */
  private async startServices(live: Live): Promise<void> {
    const sandboxId = live.record.sandboxId;
    const wantsResolver = live.record.egress !== 'none';
    if (wantsResolver) await this.uplink.enable();
    if (wantsResolver && !live.resolver) {
      const resolver = new SandboxResolver({
        hostAddress: live.hostAddress,
        upstreams: this.deps.config.dnsUpstreams,
        decide: (name) => this.decideName(live, name),
      });
      await resolver.start();
      live.resolver = resolver;
    } else if (!wantsResolver && live.resolver) {
      await live.resolver.stop();
      live.resolver = undefined;
    }
    const ports = this.proxyPortsOf(live);
    const view = { sandboxId, hostAddress: live.hostAddress, sandboxAddress: live.sandboxAddress };
    if (!live.proxyAttached && live.record.egress !== 'none') {
      await this.deps.proxy.attach(view, live.secrets, ports);
      live.proxyAttached = true;
    } else if (live.proxyAttached) {
      await this.deps.proxy.updatePorts(sandboxId, ports);
    }
  }

  private decideName(live: Live, name: string): 'host' | 'forward' | 'nxdomain' {
    const sandboxId = live.record.sandboxId;
    if (this.deps.proxy.intercepts(sandboxId, name)) return 'host';
    if (live.record.egress === 'open') return 'forward';
    if (live.record.egress === 'allowlist' && domainAllows(live.rules, name)) return 'host';
    this.denied.record(sandboxId, {
      at: new Date().toISOString(),
      layer: 'dns',
      target: name,
      reason: live.record.egress === 'allowlist' ? 'the name matches no network.allow rule' : "egress is 'none'",
    });
    return 'nxdomain';
  }

  private serial<T>(sandboxId: string, work: () => Promise<T>): Promise<T> {
    return this.queue.run(sandboxId, work);
  }
}

function parseRules(allow: readonly string[]): AllowRule[] {
  return allow.map((entry) => parseAllowEntry(entry)).filter((r): r is AllowRule => typeof r !== 'string');
}
