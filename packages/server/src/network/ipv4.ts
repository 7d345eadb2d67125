/** IPv4 addresses as 32-bit numbers, and CIDR ranges over them. */

export interface Ipv4Range {
  /** Network address (dotted quad). */
  address: string;
  prefixLength: number;
}

export function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function numberToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}

export function isIpv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/** Parses `a.b.c.d/len` (or a bare address as /32); throws naming `what` on a bad value. */
export function parseCidr(text: string, what: string): Ipv4Range {
  const [address = '', lengthText = '32', ...rest] = text.trim().split('/');
  const prefixLength = Number(lengthText);
  if (!isIpv4(address) || rest.length > 0 || !/^\d{1,2}$/.test(lengthText) || prefixLength > 32) {
    throw new Error(`${what}: '${text}' is not an IPv4 CIDR (want a.b.c.d/len)`);
  }
  return { address: numberToIpv4(ipv4ToNumber(address) & maskOf(prefixLength)), prefixLength };
}

function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

export function inRange(address: string, range: Ipv4Range): boolean {
  const mask = maskOf(range.prefixLength);
  return (ipv4ToNumber(address) & mask) >>> 0 === (ipv4ToNumber(range.address) & mask) >>> 0;
}

export function formatRange(range: Ipv4Range): string {
  return `${range.address}/${range.prefixLength}`;
}

/**
 * Never reachable from a sandbox unless the operator allows a range (`PADDOCK_EGRESS_ALLOW_PRIVATE`):
 * "this network", RFC 1918, RFC 6598 shared space, loopback, link-local (cloud metadata),
 * multicast and reserved.
 */
export const ALWAYS_DENIED: readonly Ipv4Range[] = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '224.0.0.0/4',
  '240.0.0.0/4',
].map((cidr) => parseCidr(cidr, 'built-in range'));
