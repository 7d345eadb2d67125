import { rm, writeFile } from 'node:fs/promises';
import { hostBatch } from './host-batch.js';

/** Where one sandbox's interface lives and which addresses it has. */
export interface InterfaceSpec {
  /** Host side of the veth: `pk` + 12 chars of the id (the kernel allows 15). */
  veth: string;
  /** A file kept as the bind mount of the sandbox's netns. */
  netnsPath: string;
  hostAddress: string;
  sandboxAddress: string;
}

export function vethName(sandboxId: string): string {
  return `pk${sandboxId.slice(0, 12)}`;
}

/** Single-quotes a path for sh. */
function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A here-document that feeds `text` to `command` (the delimiter never occurs in our input). */
function heredoc(command: string, text: string): string {
  return `${command} <<'PADDOCK_EOF'\n${text}\nPADDOCK_EOF`;
}

/** tc commands that set (mbit > 0) or remove the token bucket on `dev`. */
function bandwidthCommand(dev: string, mbit: number): string {
  // Burst: ~10 ms of traffic and at least 32 KiB, so that TCP still reaches the rate.
  const burstKb = Math.max(32, Math.ceil(mbit * 1.25));
  return mbit > 0
    ? `qdisc replace dev ${dev} root tbf rate ${mbit}mbit burst ${burstKb}kb latency 100ms`
    : `qdisc del dev ${dev} root`;
}

/**
 * Makes the sandbox's network in one shell run (one fork of the server; each fork of this big
 * Node process costs more than the commands themselves): first the firewall rules (so the
 * interface never exists without them), then the netns (bind-mounted at `netnsPath`) with
 * loopback, IPv6 off and a veth pair made from inside (`eth0` with `sandboxAddress`/30 and a
 * default route to `hostAddress`; the peer goes to the server's netns), then the host side.
 *
 * Forwarding: the kernel checks `net.ipv4.conf.<in>.forwarding` of the interface a packet
 * *arrives* on (ip_route_input_slow: IN_DEV_FORWARD(in_dev)), so a forwarded connection needs
 * the flag on the veth (requests) and on the uplink (replies); measured with the fake-internet
 * fixture on this kernel: either one alone forwards nothing. The global ip_forward stays as it is.
 */
export async function createInterface(
  spec: InterfaceSpec,
  extra: { firewall?: string; bandwidthMbit?: number } = {},
  signal?: AbortSignal,
): Promise<void> {
  await writeFile(spec.netnsPath, '', { flag: 'wx' });
  const inside = [
    'link set lo up',
    `link add eth0 type veth peer name ${spec.veth} netns ${process.pid}`,
    `addr add ${spec.sandboxAddress}/30 dev eth0`,
    'link set eth0 up',
    `route add default via ${spec.hostAddress}`,
  ].join('\n');
  const mbit = extra.bandwidthMbit ?? 0;
  const script = [
    'set -e',
    ...(extra.firewall ? [heredoc('nft -f -', extra.firewall)] : []),
    // IPv6 off before eth0 exists, so it never gets a link-local address.
    `unshare --net=${quote(spec.netnsPath)} sh -ec ${quote(
      `echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; ${heredoc('ip -batch -', inside)}`,
    )}`,
    `echo 1 > /proc/sys/net/ipv6/conf/${spec.veth}/disable_ipv6`,
    `echo 1 > /proc/sys/net/ipv4/conf/${spec.veth}/forwarding`,
    heredoc('ip -batch -', `addr add ${spec.hostAddress}/30 dev ${spec.veth}\nlink set ${spec.veth} up`),
    ...(mbit > 0
      ? [
          `tc ${bandwidthCommand(spec.veth, mbit)}`,
          `nsenter --net=${quote(spec.netnsPath)} tc ${bandwidthCommand('eth0', mbit)}`,
        ]
      : []),
  ].join('\n');
  await hostBatch('sh', ['-s'], `${script}\n`, { signal, timeoutMs: 30_000 });
}

/**
 * Caps the sandbox's traffic in each direction with a token bucket (tbf) on the sending side
 * of the veth: the host end for what goes to the sandbox, `eth0` inside for what comes from it
 * (the sandbox has no CAP_NET_ADMIN over its netns, so it cannot lift either). Not an ingress
 * policer: this kernel has no act_police. 0 removes the caps.
 */
export async function setBandwidth(
  spec: Pick<InterfaceSpec, 'veth' | 'netnsPath'>,
  mbit: number,
  signal?: AbortSignal,
): Promise<void> {
  // Without `set -e` when removing: a cap that was never set is not an error.
  const script = [
    ...(mbit > 0 ? ['set -e'] : []),
    `tc ${bandwidthCommand(spec.veth, mbit)}${mbit > 0 ? '' : ' 2>/dev/null || true'}`,
    `nsenter --net=${quote(spec.netnsPath)} tc ${bandwidthCommand('eth0', mbit)}${mbit > 0 ? '' : ' 2>/dev/null || true'}`,
  ].join('\n');
  await hostBatch('sh', ['-s'], `${script}\n`, { signal, timeoutMs: 30_000 });
}

/**
 * Removes the veth (its peer goes with it), the netns mount and file, in one shell run; each
 * step tolerates a piece already gone. `firewallRemoval` (nft commands) runs first.
 */
export async function removeInterface(
  spec: Pick<InterfaceSpec, 'veth' | 'netnsPath'>,
  firewallRemoval?: string,
): Promise<void> {
  const script = [
    ...(firewallRemoval ? [firewallRemoval] : []),
    `if ip link show ${spec.veth} >/dev/null 2>&1; then ip link del ${spec.veth}; fi`,
    `if mountpoint -q ${quote(spec.netnsPath)}; then umount ${quote(spec.netnsPath)}; fi`,
    // Fails the run (exit code) only when the mount is still there.
    `! mountpoint -q ${quote(spec.netnsPath)}`,
  ].join('\n');
  await hostBatch('sh', ['-s'], `${script}\n`, { timeoutMs: 30_000 });
  await rm(spec.netnsPath, { force: true });
}
