import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { SecretRule } from '../core/seams/store.js';
import { matchesAnyHost } from './host-pattern.js';

/** How the request reached the proxy. */
export interface RequestChannel {
  /** True when the proxy received it over TLS it terminated (the value then leaves over TLS too). */
  tls: boolean;
}

/**
 * The secrets whose value may be sent in a request to `host`: those naming the host, and over
 * plain HTTP only those that allow it (a value sent in cleartext is readable on the way).
 */
export function secretsFor(host: string, secrets: readonly SecretRule[], channel: RequestChannel): SecretRule[] {
  return secrets.filter((s) => matchesAnyHost(host, s.hosts) && (channel.tls || s.allowInsecureHttp === true));
}

/**
 * Request headers with every placeholder of `secrets` replaced by its value, in header values
 * only (names, the request line and the body are left as they are), and for a secret pinned to
 * `headers` only in those. Pass only the secrets that `secretsFor` allows for the request:
 * placeholders of other secrets go out verbatim.
 */
export function substituteHeaders(
  headers: IncomingHttpHeaders,
  secrets: readonly SecretRule[],
): { headers: OutgoingHttpHeaders; replaced: number } {
  const out: OutgoingHttpHeaders = {};
  let replaced = 0;
  const swap = (name: string, value: string): string => {
    let result = value;
    for (const secret of secrets) {
      if (secret.headers !== undefined && !secret.headers.includes(name)) continue;
      if (!result.includes(secret.placeholder)) continue;
      const parts = result.split(secret.placeholder);
      replaced += parts.length - 1;
      result = parts.join(secret.value);
    }
    return result;
  };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    // Node lowercases incoming header names; pinned names are lowercase too.
    const key = name.toLowerCase();
    out[name] = Array.isArray(value) ? value.map((v) => swap(key, v)) : swap(key, value);
  }
  return { headers: out, replaced };
}
