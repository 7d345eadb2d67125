import { z } from 'zod';

/**
 * A sandbox's egress: `none` (loopback only), `open` (the internet, but never the host,
 * other sandboxes, private, link-local or metadata ranges) or `allowlist` (only `allow`).
 */
export const EgressMode = z.enum(['none', 'open', 'allowlist']);
export type EgressMode = z.infer<typeof EgressMode>;

export const NETWORK_LIMITS = {
  allowEntries: 256,
  bandwidthMbit: { min: 0, max: 100_000 },
} as const;

/** One parsed `allow` entry: a domain rule or an IPv4 CIDR, either with an optional port. */
export type AllowRule =
  | { kind: 'domain' /** Lowercase; `*.suffix` matches any name below suffix. */; pattern: string; port?: number }
  | { kind: 'cidr'; address: string; prefixLength: number; port?: number };

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function parsePort(text: string): number | string {
  if (!/^\d{1,5}$/.test(text)) return `port '${text}' must be a number 1-65535`;
  const port = Number(text);
  return port >= 1 && port <= 65_535 ? port : `port ${port} is outside 1-65535`;
}

function parseIpv4(text: string): string | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  for (const part of parts) if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
  return parts.map(Number).join('.');
}

/**
 * Parses one `allow` entry: `host.name`, `*.suffix`, `a.b.c.d`, `a.b.c.d/len`, each with an
 * optional `:port`. Returns the rule, or a sentence saying what is wrong.
 *
 * @example
 * ```ts
 * parseAllowEntry('203.0.113.0/24:443') // { kind: 'cidr', address: '203.0.113.0', prefixLength: 24, port: 443 }
 * ```
 */
export function parseAllowEntry(entry: string): AllowRule | string {
  const text = entry.trim().toLowerCase();
  if (text === '') return 'an entry must not be empty';
  if (text.includes('[') || (text.match(/:/g)?.length ?? 0) > 1) {
    return 'IPv6 egress is not supported (sandboxes have IPv4 only): use an IPv4 address, CIDR or a domain';
  }
  const colon = text.lastIndexOf(':');
  const host = colon >= 0 ? text.slice(0, colon) : text;
  let port: number | undefined;
  if (colon >= 0) {
    const parsed = parsePort(text.slice(colon + 1));
    if (typeof parsed === 'string') return parsed;
    port = parsed;
  }
  const withPort = <T extends AllowRule>(rule: T): T => (port === undefined ? rule : { ...rule, port });
  if (/^[\d./]+$/.test(host)) {
    const [addressText = '', lengthText, ...rest] = host.split('/');
    const address = parseIpv4(addressText);
    if (!address || rest.length > 0) return `'${host}' is not an IPv4 address or CIDR (want a.b.c.d or a.b.c.d/len)`;
    if (lengthText === undefined) return withPort({ kind: 'cidr', address, prefixLength: 32 });
    if (!/^\d{1,2}$/.test(lengthText) || Number(lengthText) > 32) {
      return `prefix length '/${lengthText}' must be 0-32`;
    }
    const prefixLength = Number(lengthText);
    if (networkOf(address, prefixLength) !== address) {
      return `'${host}' has host bits set: the network is ${networkOf(address, prefixLength)}/${prefixLength}`;
    }
    return withPort({ kind: 'cidr', address, prefixLength });
  }
  const name = host.startsWith('*.') ? host.slice(2) : host;
  if (name.length === 0 || name.length > 253 || !name.split('.').every((label) => LABEL.test(label))) {
    return `'${host}' is not a domain name (want host.name or *.suffix: letters, digits, '-', dots; '*' only as the first label)`;
  }
  if (!name.includes('.') && host.startsWith('*.')) return `'${host}' would match a whole top-level domain`;
  return withPort({ kind: 'domain', pattern: host });
}

/** The network address of `address`/`prefixLength` (dotted quad). */
export function networkOf(address: string, prefixLength: number): string {
  const value = address.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  const network = (value & mask) >>> 0;
  return [24, 16, 8, 0].map((shift) => (network >>> shift) & 255).join('.');
}

/** The `allow` list: each entry checked by {@link parseAllowEntry}; the issue names `allow[i]`. */
export const AllowList = z
  .array(z.string().max(300), 'allow must be a list of strings')
  .max(NETWORK_LIMITS.allowEntries, `at most ${NETWORK_LIMITS.allowEntries} entries`)
  .superRefine((entries, ctx) => {
    entries.forEach((entry, index) => {
      const parsed = parseAllowEntry(entry);
      if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', path: [index], message: parsed });
    });
  });

/**
 * The `network` field of a create request.
 *
 * @example
 * ```ts
 * await Sandbox.create({ network: { egress: 'allowlist', allow: ['api.example.com', '*.example.org', '203.0.113.0/24:443'] } })
 * ```
 */
export const NetworkRequest = z.strictObject({
  /** Default: the server's `PADDOCK_DEFAULT_EGRESS` (`none` unless configured). */
  egress: EgressMode.optional(),
  /** Domains (`api.example.com`, `*.example.org`) and IPv4 CIDRs, each with an optional `:port`. */
  allow: AllowList.optional(),
  /** Cap of the sandbox's bandwidth in each direction, Mbit/s; 0 = no cap; default: the server's `PADDOCK_SANDBOX_BANDWIDTH_MBIT`. */
  bandwidthMbit: z.int().min(NETWORK_LIMITS.bandwidthMbit.min).max(NETWORK_LIMITS.bandwidthMbit.max).optional(),
});
export type NetworkRequest = z.infer<typeof NetworkRequest>;

/** Body of `PUT /v1/sandboxes/:id/network`: a live change, no restart. */
export const UpdateNetworkRequest = z.strictObject({
  egress: EgressMode.optional(),
  allow: AllowList.optional(),
});
export type UpdateNetworkRequest = z.infer<typeof UpdateNetworkRequest>;

/** A sandbox's network as `SandboxInfo.network` shows it. */
export const NetworkInfo = z.object({
  egress: EgressMode,
  allow: z.array(z.string()),
  /** The sandbox's own IPv4 address (absent when it has no network interface). */
  address: z.string().optional(),
});
export type NetworkInfo = z.infer<typeof NetworkInfo>;

/** One refused connection or lookup. */
export const DeniedAttemptInfo = z.object({
  /** ISO-8601 time. */
  at: z.string(),
  /** Which layer refused it. */
  layer: z.enum(['dns', 'proxy', 'firewall']),
  /** The name or address the sandbox tried. */
  target: z.string(),
  port: z.number().optional(),
  reason: z.string(),
});
export type DeniedAttemptInfo = z.infer<typeof DeniedAttemptInfo>;

/** Body of `GET /v1/sandboxes/:id/network` (and of the PUT's reply). */
export const NetworkStatus = NetworkInfo.extend({
  /** Bandwidth cap in Mbit/s per direction; 0 = none. */
  bandwidthMbit: z.number(),
  /** Refused attempts since create (DNS, proxy and firewall). */
  deniedTotal: z.number(),
  /** The latest refused attempts, newest last. */
  recentDenied: z.array(DeniedAttemptInfo),
});
export type NetworkStatus = z.infer<typeof NetworkStatus>;
