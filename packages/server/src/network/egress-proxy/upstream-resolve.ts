import { promises as dns } from 'node:dns';
import type { LookupFunction } from 'node:net';
import type { EgressPolicyOracle } from '../egress-contract.js';

/** Resolves a host name to IPv4 addresses on the host (sandboxes have no IPv6 egress). */
export type ResolveHost = (host: string) => Promise<string[]>;

/**
 * The host-side resolver: the upstream DNS servers of `PADDOCK_EGRESS_DNS` when given,
 * otherwise the system's (resolv.conf, /etc/hosts).
 */
export function hostResolver(servers: readonly string[]): ResolveHost {
  if (servers.length === 0) {
    return async (host) => (await dns.lookup(host, { all: true, family: 4 })).map((a) => a.address);
  }
  const resolver = new dns.Resolver({ timeout: 3_000, tries: 2 });
  resolver.setServers([...servers]);
  return (host) => resolver.resolve4(host);
}

/** A refusal the proxy reports to the sandbox (403 or a closed connection) and records. */
export class EgressRefused extends Error {
  constructor(
    readonly target: string,
    readonly port: number,
    readonly reason: string,
  ) {
    super(`${target}:${port} is not allowed: ${reason}`);
    this.name = 'EgressRefused';
  }
}

/**
 * The addresses of `host` that this sandbox may reach on `port`: an allowed name that
 * resolves to a private, host or metadata address is still refused (DNS rebinding).
 */
export async function allowedAddresses(
  deps: { resolve: ResolveHost; oracle: EgressPolicyOracle; sandboxId: string },
  host: string,
  port: number,
): Promise<string[]> {
  let addresses: string[];
  try {
    addresses = await deps.resolve(host);
  } catch (err) {
    throw new EgressRefused(host, port, `the name does not resolve (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  const refusals: string[] = [];
  const allowed = addresses.filter((address) => {
    const verdict = deps.oracle.checkAddress(deps.sandboxId, address, port);
    if (!verdict.allowed) refusals.push(`${address}: ${verdict.reason}`);
    return verdict.allowed;
  });
  if (allowed.length === 0) {
    throw new EgressRefused(host, port, refusals.length > 0 ? refusals.join('; ') : 'the name has no IPv4 address');
  }
  return allowed;
}

/** A `lookup` for node's http/https requests that only ever yields addresses the policy allows on `port`. */
export function checkedLookup(
  deps: { resolve: ResolveHost; oracle: EgressPolicyOracle; sandboxId: string },
  port: number,
): LookupFunction {
  return (hostname, options, callback) => {
    allowedAddresses(deps, hostname, port).then(
      (addresses) => {
        if (options.all)
          callback(
            null,
            addresses.map((address) => ({ address, family: 4 })),
          );
        else callback(null, addresses[0] as string, 4);
      },
      (err: Error) => callback(err as NodeJS.ErrnoException, '', 4),
    );
  };
}
