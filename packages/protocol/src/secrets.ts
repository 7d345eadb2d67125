import { z } from 'zod';

/**
 * Secrets that never enter the sandbox. The sandbox sees `NAME=<placeholder>` in the env of
 * every command; the host's egress proxy puts the real value in place of the placeholder in
 * request headers, and only towards the listed hosts (HTTPS through a per-sandbox CA that the
 * sandbox trusts). Towards any other host the placeholder goes out as it is.
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

/** One secret of a create request. */
export const SecretSpec = z.strictObject({
  /** The real value; kept on the host only. */
  value: z.string().min(1, 'value must not be empty').max(SECRET_LIMITS.valueChars),
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
});
export type SecretSpec = z.infer<typeof SecretSpec>;

/** The `secrets` field of a create request: env name → value and hosts. */
export const SecretsRequest = z
  .record(z.string().regex(SECRET_NAME, 'secret names must match [A-Za-z_][A-Za-z0-9_]* (≤ 128)'), SecretSpec)
  .refine((r) => Object.keys(r).length <= SECRET_LIMITS.entries, `at most ${SECRET_LIMITS.entries} secrets`);
export type SecretsRequest = z.infer<typeof SecretsRequest>;

/** A secret as the API shows it: its name and hosts, never its value or placeholder. */
export const SecretInfo = z.object({ name: z.string(), hosts: z.array(z.string()) });
export type SecretInfo = z.infer<typeof SecretInfo>;
