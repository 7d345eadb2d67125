import { z } from 'zod';

/**
 * Secrets that never enter the sandbox. The sandbox sees `NAME=<placeholder>` in the env of
 * every command; the host's egress proxy puts the real value in place of the placeholder in
 * request headers, only towards the listed hosts, and only over TLS (terminated with a
 * per-sandbox CA that the sandbox trusts) unless the secret allows plain HTTP. Towards any
 * other host, and over plain HTTP, the placeholder goes out as it is.
 *
 * @example
 * ```ts
 * await Sandbox.create({ secrets: { OPENAI_API_KEY: { value: 'sk-…', hosts: ['api.openai.com'] } } })
 * ```
 */
export const SECRET_LIMITS = {
  /** Secrets per sandbox. */
  entries: 32,
  /** Hosts per secret. */
  hosts: 32,
  /** Length of a value, in characters. */
  valueChars: 8_192,
  /** Headers a secret may be pinned to. */
  headers: 16,
} as const;

/** Env names a secret may take (the same rule as create `env`). */
export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * A host a secret is sent to: a lowercase DNS name (`api.example.com`) or `*.` and a suffix
 * (`*.example.com`: every name below example.com, not example.com itself).
 */
export const SECRET_HOST_PATTERN =
  /^(\*\.)?(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Placeholders the sandbox sees: `paddock-secret-` and 24 hex digits. */
export const SECRET_PLACEHOLDER = /^paddock-secret-[0-9a-f]{24}$/;

/** Request header names a secret may be pinned to (RFC 9110 tokens, lowercased). */
export const SECRET_HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]{1,64}$/;

/**
 * Headers that describe the hop or the target, never a credential: the proxy decides on Host
 * and drops the hop-by-hop ones, so a secret pinned to them would never be sent as asked.
 */
const UNPINNABLE_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
]);

/**
 * One secret of a create request.
 *
 * The value is sent only over TLS (the proxy terminates it with the sandbox's CA), so it never
 * crosses a network in cleartext; `allowInsecureHttp: true` also sends it over plain HTTP.
 * Any allowed host that reflects request headers (an echo endpoint, an error page quoting the
 * request) hands the value back to the sandbox: list only hosts that use the secret, and pin it
 * with `headers` to the header(s) it belongs in, so that a placeholder the sandbox puts in any
 * other header goes out as it is.
 *
 * @example
 * ```ts
 * { value: 'sk-…', hosts: ['api.openai.com'], headers: ['authorization'] }
 * ```
 */
export const SecretSpec = z.strictObject({
  /** The real value; kept on the host only. It goes into request headers, so no line breaks or NUL. */
  value: z
    .string()
    .min(1, 'value must not be empty')
    .max(SECRET_LIMITS.valueChars)
    .regex(
      /^[\t\x20-\x7e\x80-\xff]*$/,
      'value must be valid in an HTTP header: printable characters, no line breaks, NUL or other control characters',
    ),
  /** Hosts the value is sent to (exact names or `*.suffix`); at least one. */
  hosts: z
    .array(
      z
        .string()
        .transform((h) => h.toLowerCase())
        .pipe(z.string().regex(SECRET_HOST_PATTERN, 'each host must be a DNS name or *.suffix, e.g. api.example.com')),
      'hosts must be a list of host names',
    )
    .min(1, 'hosts must name at least one host the secret may be sent to')
    .max(SECRET_LIMITS.hosts, `at most ${SECRET_LIMITS.hosts} hosts`),
  /**
   * Request headers the value may be put in (case-insensitive, e.g. `['authorization']`);
   * default: any header. The placeholder in any other header goes out as it is.
   */
  headers: z
    .array(
      z
        .string()
        .transform((h) => h.toLowerCase())
        .pipe(
          z
            .string()
            .regex(SECRET_HEADER_NAME, 'each header must be an HTTP header name, e.g. authorization')
            .refine((h) => !UNPINNABLE_HEADERS.has(h), 'a secret cannot be pinned to a hop-by-hop or Host header'),
        ),
      'headers must be a list of header names',
    )
    .min(1, 'headers must name at least one header (leave it out to allow any header)')
    .max(SECRET_LIMITS.headers, `at most ${SECRET_LIMITS.headers} headers`)
    .optional(),
  /**
   * Also send the value over plain HTTP (default false: only over TLS). Anyone on the path to
   * the host then sees it: set it only for hosts reached over a network you trust.
   */
  allowInsecureHttp: z.boolean('allowInsecureHttp must be true or false').optional(),
});
export type SecretSpec = z.infer<typeof SecretSpec>;

/** The `secrets` field of a create request: env name → value and hosts. */
export const SecretsRequest = z
  .record(z.string().regex(SECRET_NAME, 'secret names must match [A-Za-z_][A-Za-z0-9_]* (≤ 128)'), SecretSpec)
  .refine((r) => Object.keys(r).length <= SECRET_LIMITS.entries, `at most ${SECRET_LIMITS.entries} secrets`);
export type SecretsRequest = z.infer<typeof SecretsRequest>;

/** A secret as the API shows it: its name, hosts and options, never its value or placeholder. */
export const SecretInfo = z.object({
  name: z.string(),
  hosts: z.array(z.string()),
  /** Set when the secret is pinned to these request headers. */
  headers: z.array(z.string()).optional(),
  /** True when the secret is also sent over plain HTTP. */
  allowInsecureHttp: z.boolean().optional(),
});
export type SecretInfo = z.infer<typeof SecretInfo>;
