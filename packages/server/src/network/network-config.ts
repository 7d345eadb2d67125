import { readFileSync } from 'node:fs';
import { EgressMode } from '@paddock/protocol';
import { type Ipv4Range, isIpv4, parseCidr } from './ipv4.js';

/** Settings of the sandboxes' network (see docs/api.md "Network"). */
export interface NetworkConfig {
  /** Where sandbox /30s come from (`PADDOCK_SANDBOX_SUBNET`, default 10.88.0.0/16). */
  subnet: Ipv4Range;
  /** Egress of a create that names none (`PADDOCK_DEFAULT_EGRESS`, default `none`). */
  defaultEgress: EgressMode;
  /**
   * Interface forwarded sandbox traffic leaves by (`PADDOCK_EGRESS_UPLINK`): a name, `auto`
   * (the default route's interface) or `none` (sandboxes reach only the host's resolver and proxy).
   */
  uplink: string;
  /** Resolvers the host asks for sandboxes in `open` mode (`PADDOCK_EGRESS_DNS`; default /etc/resolv.conf's). */
  dnsUpstreams: string[];
  /** Ranges the operator lets sandboxes reach although they are private (`PADDOCK_EGRESS_ALLOW_PRIVATE`). */
  allowPrivate: Ipv4Range[];
  /** Open connections per sandbox (`PADDOCK_SANDBOX_MAX_CONNECTIONS`, default 512). */
  maxConnections: number;
  /** Default bandwidth cap per direction in Mbit/s, 0 = none (`PADDOCK_SANDBOX_BANDWIDTH_MBIT`). */
  bandwidthMbit: number;
}

export type NetworkConfigOverrides = Partial<Omit<NetworkConfig, 'subnet' | 'allowPrivate'>> & {
  subnet?: string;
  allowPrivate?: string[];
};

function list(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function hostResolvers(): string[] {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8')
      .split('\n')
      .map((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1])
      .filter((ip): ip is string => ip !== undefined && isIpv4(ip));
  } catch {
    return [];
  }
}

function nonNegative(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got '${raw}'`);
  return value;
}

export function loadNetworkConfig(
  overrides: NetworkConfigOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): NetworkConfig {
  const subnet = parseCidr(overrides.subnet ?? env.PADDOCK_SANDBOX_SUBNET ?? '10.88.0.0/16', 'PADDOCK_SANDBOX_SUBNET');
  if (subnet.prefixLength > 28)
    throw new Error('PADDOCK_SANDBOX_SUBNET must be /28 or larger (each sandbox takes a /30)');
  const egress = overrides.defaultEgress ?? env.PADDOCK_DEFAULT_EGRESS ?? 'none';
  const parsedEgress = EgressMode.safeParse(egress);
  if (!parsedEgress.success) throw new Error(`PADDOCK_DEFAULT_EGRESS must be none, open or allowlist, got '${egress}'`);
  const uplink = overrides.uplink ?? env.PADDOCK_EGRESS_UPLINK ?? 'auto';
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(uplink))
    throw new Error(`PADDOCK_EGRESS_UPLINK is not an interface name: '${uplink}'`);
  const dnsUpstreams = overrides.dnsUpstreams ?? list(env.PADDOCK_EGRESS_DNS) ?? hostResolvers();
  for (const ip of dnsUpstreams) if (!isIpv4(ip)) throw new Error(`PADDOCK_EGRESS_DNS: '${ip}' is not an IPv4 address`);
  const allowPrivate = (overrides.allowPrivate ?? list(env.PADDOCK_EGRESS_ALLOW_PRIVATE) ?? []).map((cidr) =>
    parseCidr(cidr, 'PADDOCK_EGRESS_ALLOW_PRIVATE'),
  );
  return {
    subnet,
    defaultEgress: parsedEgress.data,
    uplink,
    dnsUpstreams,
    allowPrivate,
    maxConnections:
      overrides.maxConnections ??
      nonNegative('PADDOCK_SANDBOX_MAX_CONNECTIONS', env.PADDOCK_SANDBOX_MAX_CONNECTIONS, 512),
    bandwidthMbit:
      overrides.bandwidthMbit ?? nonNegative('PADDOCK_SANDBOX_BANDWIDTH_MBIT', env.PADDOCK_SANDBOX_BANDWIDTH_MBIT, 0),
  };
}
