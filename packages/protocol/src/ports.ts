import { z } from 'zod';

/** Bounds of exposed-port settings (docs/api.md, "Exposed ports"). */
export const PORT_LIMITS = {
  /** Lifetime of a port URL's token when `expiresInMs` is not given: 1 hour. */
  defaultExpiresInMs: 3_600_000,
  /** The shortest lifetime a token may ask for. */
  minExpiresInMs: 1_000,
} as const;

/** A TCP port number inside a sandbox, 1–65535 (e.g. a path segment `:port`). */
export const PortNumber = z.coerce
  .number({ error: 'port must be an integer from 1 to 65535' })
  .int('port must be an integer from 1 to 65535')
  .min(1, 'port must be an integer from 1 to 65535')
  .max(65_535, 'port must be an integer from 1 to 65535');

/** Body of `POST /v1/sandboxes/:id/ports/:port/url`. */
export const PortUrlRequest = z.strictObject({
  /** How long the token stays valid; default 1 hour, at most the server's maximum (7 days). */
  expiresInMs: z.int('expiresInMs must be an integer number of milliseconds').optional(),
});
export type PortUrlRequest = z.infer<typeof PortUrlRequest>;

/**
 * Answer of `POST /v1/sandboxes/:id/ports/:port/url`: a preview URL whose token opens only
 * this port of this sandbox until `expiresAt`.
 *
 * @example
 * ```ts
 * // Browser: open `url`. Clients without wildcard DNS: send `headers` to the server's own URL.
 * await fetch(apiUrl, { headers: access.headers });
 * ```
 */
export const PortAccess = z.object({
  /** `http://{port}-{id}.{domain}/?paddock_token=…` */
  url: z.string(),
  /** `pt_…`: send as `X-Paddock-Token`, the `paddock_token` query parameter or cookie. */
  token: z.string(),
  /** ISO time after which the token is refused. */
  expiresAt: z.string(),
  /** `{port}-{id}.{domain}`, the Host that routes to the port. */
  host: z.string(),
  /** Header routing for clients that cannot use wildcard hosts: `X-Paddock-Sandbox`, `-Port`, `-Token`. */
  headers: z.record(z.string(), z.string()),
});
export type PortAccess = z.infer<typeof PortAccess>;

/** Body of `PUT /v1/sandboxes/:id/ports/:port`. */
export const PortSettingsRequest = z.strictObject({
  /** True: the port needs no token (anyone who can reach the server can use it). */
  public: z.boolean('public must be true or false'),
});
export type PortSettingsRequest = z.infer<typeof PortSettingsRequest>;

/** Answer of `PUT /v1/sandboxes/:id/ports/:port`. */
export const PortSettings = z.object({ port: z.number(), public: z.boolean() });
export type PortSettings = z.infer<typeof PortSettings>;

/** One port of a sandbox: listening inside, made public, or both. */
export const PortInfo = z.object({
  port: z.number(),
  /** True when something listens on it inside the sandbox (TCP, IPv4 or IPv6). */
  listening: z.boolean(),
  /** The local addresses it listens on, e.g. `0.0.0.0`, `127.0.0.1`, `::`. */
  addresses: z.array(z.string()),
  /** True when it needs no token. */
  public: z.boolean(),
});
export type PortInfo = z.infer<typeof PortInfo>;

/** Body of `GET /v1/sandboxes/:id/ports`. */
export const PortList = z.object({ ports: z.array(PortInfo) });
export type PortList = z.infer<typeof PortList>;

/** One listening socket as the agent reports it (`GET /ports`). */
export const ListeningPort = z.object({ port: z.number(), address: z.string() });
export type ListeningPort = z.infer<typeof ListeningPort>;

/** Body of the agent's `GET /ports`. */
export const ListeningPorts = z.object({ listening: z.array(ListeningPort) });
export type ListeningPorts = z.infer<typeof ListeningPorts>;
