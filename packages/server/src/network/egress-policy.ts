import { networkInterfaces } from 'node:os';
import type { AllowRule, EgressMode } from '@paddock/protocol';
import { domainAllows } from './domain-rules.js';
import type { EgressVerdict } from './egress-contract.js';
import { ALWAYS_DENIED, type Ipv4Range, inRange, isIpv4 } from './ipv4.js';

/**
 * Why a sandbox may never reach `address`, or undefined: other sandboxes and the host's own
 * addresses always; the always-denied ranges unless the operator allowed one. The same
 * decisions the firewall makes, for the egress proxy's connections (made by the host, so the
 * firewall does not see them).
 */
export function addressDenial(
  address: string,
  ranges: { subnet: Ipv4Range; allowPrivate: readonly Ipv4Range[] },
  hostAddresses: () => readonly string[] = localAddresses,
): string | undefined {
  if (!isIpv4(address)) return 'IPv6 egress is not supported';
  if (inRange(address, ranges.subnet)) return 'another sandbox';
  if (hostAddresses().includes(address)) return 'an address of the host';
  if (ranges.allowPrivate.some((r) => inRange(address, r))) return undefined;
  if (ALWAYS_DENIED.some((r) => inRange(address, r))) return 'a private, link-local or reserved address';
  return undefined;
}

function localAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}

/** May a sandbox with this policy reach `host` on `port` by name? */
export function nameVerdict(
  egress: EgressMode,
  rules: readonly AllowRule[],
  host: string,
  port: number,
): EgressVerdict {
  if (egress === 'open') return { allowed: true };
  if (egress === 'none') return { allowed: false, reason: "egress is 'none'" };
  return domainAllows(rules, host, port)
    ? { allowed: true }
    : { allowed: false, reason: `'${host}' on port ${port} matches no network.allow rule` };
}
