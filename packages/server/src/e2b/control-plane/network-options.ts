import { type NetworkRequest, PaddockError, parseAllowEntry, type UpdateNetworkRequest } from '@paddock/protocol';
import { z } from 'zod';

/** E2B's CIDR for "all traffic": in `denyOut`, it makes `allowOut` an allowlist. */
const ALL_TRAFFIC = '0.0.0.0/0';

/** `SandboxNetworkConfig` of E2B's API (create's `network`, and `PUT /sandboxes/:id/network`). */
export const E2bNetwork = z.looseObject({
  allowOut: z.array(z.string()).optional(),
  denyOut: z.array(z.string()).optional(),
  allowPublicTraffic: z.boolean().optional(),
  maskRequestHost: z.string().nullable().optional(),
  httpsPorts: z.array(z.int()).nullable().optional(),
  rules: z.record(z.string(), z.unknown()).nullable().optional(),
  egressProxy: z.record(z.string(), z.unknown()).nullable().optional(),
});
export type E2bNetwork = z.infer<typeof E2bNetwork>;

function refuse(field: string, why: string): PaddockError {
  return new PaddockError('INVALID_ARGUMENT', `${field}: ${why}`, { field });
}

/**
 * E2B's egress options as Paddock's network policy:
 * - `allow_internet_access: false`, or `denyOut` holding `0.0.0.0/0`, denies everything but
 *   `allowOut` → egress `allowlist` (or `none` when `allowOut` is empty);
 * - `allow_internet_access: true`, or any other network config → egress `open`;
 * - neither → undefined: the server's default egress (`PADDOCK_DEFAULT_EGRESS`), which is
 *   stricter than E2B's internet-on default unless the operator changed it.
 * Ports: E2B's default `allowPublicTraffic: true` makes every port public (set at create, see
 * sandbox-routes.ts); `false` keeps Paddock's per-port tokens (`sbx.ports.url`). Per-address deny lists, header rules, host masking, HTTPS-port lists and
 * egress proxies have no Paddock equivalent and are refused by name.
 */
export function toNetworkPolicy(
  allowInternetAccess: boolean | undefined,
  network: E2bNetwork | undefined,
): Pick<NetworkRequest, 'egress' | 'allow'> | undefined {
  if (network?.maskRequestHost) throw refuse('network.maskRequestHost', 'not supported by Paddock; remove it');
  if (network?.httpsPorts && network.httpsPorts.length > 0) {
    throw refuse('network.httpsPorts', 'not supported by Paddock; remove it');
  }
  if (network?.rules && Object.keys(network.rules).length > 0) {
    throw refuse('network.rules', 'request transform rules are not supported by Paddock; remove them');
  }
  if (network?.egressProxy) throw refuse('network.egressProxy', 'not supported by Paddock; remove it');
  const denyOut = network?.denyOut ?? [];
  const partial = denyOut.filter((d) => d !== ALL_TRAFFIC);
  if (partial.length > 0) {
    throw refuse(
      'network.denyOut',
      `Paddock has no deny list: use denyOut ['${ALL_TRAFFIC}'] with allowOut as the allowlist (got ${partial.join(', ')})`,
    );
  }
  const allow = network?.allowOut ?? [];
  allow.forEach((entry, i) => {
    const parsed = parseAllowEntry(entry);
    if (typeof parsed === 'string') throw refuse(`network.allowOut[${i}]`, parsed);
  });
  if (allowInternetAccess === false || denyOut.length > 0) {
    return allow.length > 0 ? { egress: 'allowlist', allow } : { egress: 'none' };
  }
  if (allowInternetAccess === true || network !== undefined) return { egress: 'open' };
  return undefined;
}

/** `PUT /sandboxes/:id/network` replaces the config: what is omitted is cleared (internet on). */
export function toNetworkUpdate(allowInternetAccess: boolean | undefined, network: E2bNetwork): UpdateNetworkRequest {
  const policy = toNetworkPolicy(allowInternetAccess, network) ?? { egress: 'open' };
  return { egress: policy.egress ?? 'open', allow: policy.allow ?? [] };
}
