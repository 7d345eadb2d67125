import type { Duplex } from 'node:stream';
import { PaddockError, PORT_LIMITS, type PortAccess, type PortInfo, type PortSettings } from '@paddock/protocol';
import type { AgentClient } from '../agent-client/agent-client.js';
import { listListeningPorts } from '../agent-client/tunnel-client.js';
import type { Clock } from '../core/clock.js';
import type { PauseResume } from '../core/pause/pause-resume.js';
import type { SandboxService } from '../core/sandbox-service.js';
import { ALL_PORTS, type PortStore } from '../core/seams/store.js';
import { type PortGrant, PortTokens } from './port-tokens.js';

/** The headers that route a request to a sandbox's port without a wildcard Host. */
export const SANDBOX_HEADER = 'X-Paddock-Sandbox';
export const PORT_HEADER = 'X-Paddock-Port';
export const TOKEN_HEADER = 'X-Paddock-Token';
/** Query parameter and cookie that carry the token for browsers. */
export const TOKEN_PARAM = 'paddock_token';

export interface ExposedPortsDeps {
  service: SandboxService;
  pause: PauseResume;
  tables: PortStore;
  /** Key that signs port tokens; kept by the server so tokens survive a restart. */
  tokenSecret: Buffer;
  clock: Clock;
  agentOf: (sandboxId: string) => AgentClient;
  /** Longest token lifetime a URL may ask for (`PADDOCK_MAX_PORT_TOKEN_MS`). */
  maxExpiresInMs: number;
  /** `PADDOCK_DOMAIN`; when undefined, `localhost:<listening port>` once the server listens. */
  domain: string | undefined;
}

/**
 * Exposed ports: who may reach which port of which sandbox (signed, expiring tokens or a
 * public flag), preview URLs, and the tunnel to the port itself. The HTTP side lives in
 * port-proxy.ts and api/routes/ports.ts.
 */
export class ExposedPorts {
  private readonly tokens: PortTokens;
  private domainName: string | undefined;

  constructor(private readonly deps: ExposedPortsDeps) {
    this.tokens = new PortTokens(deps.tokenSecret);
    this.domainName = deps.domain;
  }

  /** Sets the default domain once the listening port is known (unless PADDOCK_DOMAIN set one). */
  listeningOn(port: number): void {
    this.domainName ??= `localhost:${port}`;
  }

  get domain(): string {
    return this.domainName ?? 'localhost:7070';
  }

  /** A URL (and headers) that open `port` of the sandbox for `expiresInMs`. */
  mintUrl(sandboxId: string, port: number, expiresInMs: number = PORT_LIMITS.defaultExpiresInMs): PortAccess {
    const max = this.deps.maxExpiresInMs;
    if (expiresInMs < PORT_LIMITS.minExpiresInMs || expiresInMs > max) {
      throw new PaddockError(
        'INVALID_ARGUMENT',
        `\`expiresInMs\` must be from ${PORT_LIMITS.minExpiresInMs} to ${max} (the server's PADDOCK_MAX_PORT_TOKEN_MS), got ${expiresInMs}`,
        { fields: ['expiresInMs'] },
      );
    }
    this.deps.service.get(sandboxId);
    const expiresAtMs = this.deps.clock.now() + expiresInMs;
    const token = this.tokens.mint({ sandboxId, port, expiresAtMs });
    const host = `${port}-${sandboxId}.${this.domain}`;
    return {
      url: `http://${host}/?${TOKEN_PARAM}=${token}`,
      token,
      expiresAt: new Date(expiresAtMs).toISOString(),
      host,
      headers: { [SANDBOX_HEADER]: sandboxId, [PORT_HEADER]: String(port), [TOKEN_HEADER]: token },
    };
  }

  setPublic(sandboxId: string, port: number, isPublic: boolean): PortSettings {
    this.deps.service.get(sandboxId);
    this.deps.tables.setPublic(sandboxId, port, isPublic);
    return { port, public: isPublic };
  }

  /** Makes every port of the sandbox reachable without a token (the E2B facade's default), or undoes it. */
  setAllPublic(sandboxId: string, isPublic: boolean): void {
    this.deps.tables.setPublic(sandboxId, ALL_PORTS, isPublic);
  }

  /** Ports listening inside the running sandbox, and the public ones, each with its flag. */
  async list(sandboxId: string, signal?: AbortSignal): Promise<PortInfo[]> {
    const listening = await listListeningPorts(this.deps.agentOf(sandboxId), { signal });
    const publicPorts = new Set(this.deps.tables.publicPorts(sandboxId));
    const allPublic = this.deps.tables.isPublic(sandboxId, ALL_PORTS);
    const byPort = new Map<number, PortInfo>();
    for (const { port, address } of listening) {
      const info = byPort.get(port) ?? {
        port,
        listening: true,
        addresses: [],
        public: allPublic || publicPorts.has(port),
      };
      info.addresses.push(address);
      byPort.set(port, info);
    }
    for (const port of publicPorts) {
      if (!byPort.has(port)) byPort.set(port, { port, listening: false, addresses: [], public: true });
    }
    return [...byPort.values()].sort((a, b) => a.port - b.port);
  }

  /**
   * Checks that a request may reach `port` of the sandbox: the sandbox exists (NOT_FOUND),
   * and the port is public or `token` opens it (401/403 otherwise). Nothing is resumed here,
   * so a request without a valid token cannot wake a paused sandbox. Returns the token's
   * grant, or undefined for a public port.
   */
  authorize(target: { sandboxId: string; port: number }, token: string | undefined): PortGrant | undefined {
    this.deps.service.get(target.sandboxId);
    if (this.deps.tables.isPublic(target.sandboxId, target.port)) return undefined;
    if (token === undefined) {
      throw new PaddockError(
        'UNAUTHENTICATED',
        `port ${target.port} of sandbox ${target.sandboxId} needs a token: get a URL with POST /v1/sandboxes/${target.sandboxId}/ports/${target.port}/url (sbx.ports.url(${target.port}), \`paddock port url\`) or make the port public`,
      );
    }
    return this.tokens.check(token, target, this.deps.clock.now());
  }

  /**
   * A byte stream to the port, for an authorized request: a paused or hibernated sandbox
   * created with autoResume is resumed first (SANDBOX_PAUSED otherwise).
   */
  async connect(target: { sandboxId: string; port: number }, signal: AbortSignal): Promise<Duplex> {
    await this.ensureRunning(target, signal);
    return this.tunnel(target, signal);
  }

  /** Resumes a paused or hibernated sandbox created with autoResume; SANDBOX_PAUSED otherwise. */
  async ensureRunning(target: { sandboxId: string }, signal: AbortSignal): Promise<void> {
    await this.deps.pause.ensureRunning(target.sandboxId, signal);
  }

  /** A byte stream to the port of a running sandbox; PORT_NOT_OPEN when nothing listens there. */
  async tunnel(target: { sandboxId: string; port: number }, signal?: AbortSignal): Promise<Duplex> {
    try {
      return await this.deps.agentOf(target.sandboxId).tunnel(target.port, { signal });
    } catch (err) {
      if (err instanceof PaddockError && err.code === 'PORT_NOT_OPEN') {
        throw new PaddockError(
          'PORT_NOT_OPEN',
          `nothing listens on port ${target.port} in sandbox ${target.sandboxId}; start a server bound to 0.0.0.0 or 127.0.0.1`,
          { port: target.port, sandboxId: target.sandboxId },
        );
      }
      throw err;
    }
  }
}
