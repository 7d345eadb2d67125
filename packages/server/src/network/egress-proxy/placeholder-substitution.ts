import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { SecretRule } from '../egress-contract.js';
import { matchesAnyHost } from './host-pattern.js';

/** The secrets whose value may be sent to `host`. */
export function secretsFor(host: string, secrets: readonly SecretRule[]): SecretRule[] {
  return secrets.filter((s) => matchesAnyHost(host, s.hosts));
}

/**
 * Request headers with every placeholder of `secrets` replaced by its value, in header values
 * only (names, the request line and the body are left as they are). Pass only the secrets
 * that `secretsFor` allows for the request's host: placeholders of other secrets go out verbatim.
 */
export function substituteHeaders(
  headers: IncomingHttpHeaders,
  secrets: readonly SecretRule[],
): { headers: OutgoingHttpHeaders; replaced: number } {
  const out: OutgoingHttpHeaders = {};
  let replaced = 0;
  const swap = (value: string): string => {
    let result = value;
    for (const secret of secrets) {
      if (!result.includes(secret.placeholder)) continue;
      const parts = result.split(secret.placeholder);
      replaced += parts.length - 1;
      result = parts.join(secret.value);
    }
    return result;
  };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.map(swap) : swap(value);
  }
  return { headers: out, replaced };
}
