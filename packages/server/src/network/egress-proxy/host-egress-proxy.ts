import { readFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { createSecureContext, rootCertificates, type SecureContext, TLSSocket } from 'node:tls';
import type { Logger } from '../../core/logger.js';
import type { SecretRule } from '../../core/seams/store.js';
import { matchesAnyHost } from '../../secrets/host-pattern.js';
import { secretsFor } from '../../secrets/placeholder-substitution.js';
import type { EgressPolicyOracle, EgressProxy, SandboxEgressView } from '../egress-contract.js';
import { readFirstBytes } from './first-bytes.js';
import { HttpForwarder } from './http-forwarder.js';
import { prefixedStream } from './prefixed-stream.js';
import { SandboxCa } from './sandbox-ca.js';
import { allowedAddresses, EgressRefused, hostResolver, type ResolveHost } from './upstream-resolve.js';

export interface HostEgressProxyOptions {
  oracle: EgressPolicyOracle;
  logger: Logger;
  /** Host dir where a sandbox's CA is kept (key mode 0600; never mounted into the sandbox). */
  caDirOf: (sandboxId: string) => string;
  /**
   * The sandbox's secrets as stored (read on every connection, so secrets saved after the
   * network was attached, e.g. when a warm sandbox is claimed, apply at once).
   */
  secretsOf?: (sandboxId: string) => readonly SecretRule[];
  /** Called when a sandbox is detached, i.e. its network is gone (the secrets' values go with it). */
  onDetach?: (sandboxId: string) => void;
  /** Upstream DNS servers (`PADDOCK_EGRESS_DNS`); empty: the system resolver. */
  dnsServers?: readonly string[];
  /** Replaces DNS entirely (tests). */
  resolve?: ResolveHost;
  /** PEM of extra CAs that upstream servers may present (`PADDOCK_EGRESS_CA_FILE`). */
  extraCaPem?: string;
  /** Open connections per sandbox, over all its ports (default 256). */
  maxConnectionsPerSandbox?: number;
  /** How long a new connection has to show its ClientHello or request line (default 10 s). */
  firstBytesTimeoutMs?: number;
  /** How long connecting upstream may take (default 10 s). */
  connectTimeoutMs?: number;
  /** How long an idle keep-alive HTTP connection from a sandbox stays open (default 60 s). */
  keepAliveTimeoutMs?: number;
}

interface Attached {
  view: SandboxEgressView;
  /** Secrets handed to `attach` (the store's, from `secretsOf`, are added). */
  secrets: SecretRule[];
  listeners: Map<number, Server>;
  sockets: Set<Socket>;
  forwarder: HttpForwarder;
  logger: Logger;
}

/** The host's trust store (Debian's bundle), Node's own roots and the operator's extra CAs. */
function upstreamTrust(extraCaPem: string | undefined): string[] {
  let system: string[] = [];
  try {
    system = [readFileSync('/etc/ssl/certs/ca-certificates.crt', 'utf8')];
  } catch {
    system = [];
  }
  return [...rootCertificates, ...system, ...(extraCaPem ? [extraCaPem] : [])];
}

/**
 * The egress proxy on the host: for each attached sandbox, listeners on the host side of its
 * veth (where its DNS sends the names that must be checked by name). A connection is classified
 * by its first bytes: TLS → the SNI decides, and the bytes pass through untouched unless the
 * name gets a secret (then TLS is terminated with the sandbox's CA and requests are forwarded
 * one by one); HTTP → every request's Host decides (see HttpForwarder). Anything else is closed.
 */
export class HostEgressProxy implements EgressProxy {
  private readonly sandboxes = new Map<string, Attached>();
  private readonly cas = new Map<string, Promise<SandboxCa>>();
  private readonly resolve: ResolveHost;
  private readonly trust: SecureContext;
  private readonly maxConnections: number;

  constructor(private readonly options: HostEgressProxyOptions) {
    this.resolve = options.resolve ?? hostResolver(options.dnsServers ?? []);
    this.trust = createSecureContext({ ca: upstreamTrust(options.extraCaPem) });
    this.maxConnections = options.maxConnectionsPerSandbox ?? 256;
  }

  async attach(view: SandboxEgressView, secrets: SecretRule[], ports: number[]): Promise<void> {
    let entry = this.sandboxes.get(view.sandboxId);
    if (entry) {
      entry.secrets = secrets;
    } else {
      const deps = { sandboxId: view.sandboxId, oracle: this.options.oracle, resolve: this.resolve };
      const created: Attached = {
        view,
        secrets,
        listeners: new Map(),
        sockets: new Set(),
        logger: this.options.logger.child({ sandboxId: view.sandboxId, component: 'egress-proxy' }),
        forwarder: new HttpForwarder({
          ...deps,
          secrets: () => this.secretsOf(view.sandboxId),
          upstreamTls: this.trust,
          keepAliveTimeoutMs: this.options.keepAliveTimeoutMs ?? 60_000,
          logger: this.options.logger,
        }),
      };
      entry = created;
      this.sandboxes.set(view.sandboxId, entry);
    }
    await this.updatePorts(view.sandboxId, ports);
  }

  /** The PEM of the sandbox's CA (created on first use, kept in `caDirOf`), which the sandbox must trust. */
  async certificateAuthority(sandboxId: string): Promise<string> {
    return (await this.caOf(sandboxId)).certPem;
  }

  private caOf(sandboxId: string): Promise<SandboxCa> {
    let ca = this.cas.get(sandboxId);
    if (!ca) {
      ca = SandboxCa.loadOrCreate(this.options.caDirOf(sandboxId), sandboxId);
      ca.catch(() => this.cas.delete(sandboxId));
      this.cas.set(sandboxId, ca);
    }
    return ca;
  }

  /** Secrets given to `attach` and those stored for the sandbox, by name (the stored ones win). */
  private secretsOf(sandboxId: string): SecretRule[] {
    const byName = new Map<string, SecretRule>();
    for (const s of this.sandboxes.get(sandboxId)?.secrets ?? []) byName.set(s.name, s);
    for (const s of this.options.secretsOf?.(sandboxId) ?? []) byName.set(s.name, s);
    return [...byName.values()];
  }

  async updatePorts(sandboxId: string, ports: number[]): Promise<void> {
    const entry = this.sandboxes.get(sandboxId);
    if (!entry) return;
    const wanted = new Set(ports);
    for (const [port, server] of entry.listeners) {
      if (!wanted.has(port)) {
        entry.listeners.delete(port);
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    }
    for (const port of wanted) {
      if (entry.listeners.has(port)) continue;
      const server = createServer({ allowHalfOpen: true }, (socket) => this.onConnection(entry, port, socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: entry.view.hostAddress, port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) => entry.logger.warn({ err, port }, 'egress listener failed'));
      entry.listeners.set(port, server);
    }
  }

  async detach(sandboxId: string): Promise<void> {
    if (!this.sandboxes.has(sandboxId)) return;
    this.options.onDetach?.(sandboxId);
    await this.stopListening(sandboxId);
  }

  /**
   * Stops every listener (server shutdown) but keeps the sandboxes' secrets: the next server
   * attaches them again. Without this, a second server in the same process could not bind.
   */
  async close(): Promise<void> {
    await Promise.all([...this.sandboxes.keys()].map((id) => this.stopListening(id)));
  }

  private async stopListening(sandboxId: string): Promise<void> {
    const entry = this.sandboxes.get(sandboxId);
    if (!entry) return;
    this.sandboxes.delete(sandboxId);
    this.cas.delete(sandboxId);
    const closed = [...entry.listeners.values()].map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const socket of entry.sockets) socket.destroy();
    entry.forwarder.close();
    await Promise.all(closed);
  }

  intercepts(sandboxId: string, name: string): boolean {
    const entry = this.sandboxes.get(sandboxId);
    return entry !== undefined && this.secretsOf(sandboxId).some((s) => matchesAnyHost(name, s.hosts));
  }

  /** Open sandbox connections (for tests and the connection cap). */
  connectionCount(sandboxId: string): number {
    return this.sandboxes.get(sandboxId)?.sockets.size ?? 0;
  }

  private refuse(entry: Attached, socket: Socket, refusal: { target: string; port: number; reason: string }): void {
    this.options.oracle.recordDenied(entry.view.sandboxId, {
      at: new Date().toISOString(),
      layer: 'proxy',
      ...refusal,
    });
    socket.destroy();
  }

  private onConnection(entry: Attached, port: number, socket: Socket): void {
    socket.on('error', () => socket.destroy());
    if (entry.sockets.size >= this.maxConnections) {
      this.refuse(entry, socket, { target: '(any)', port, reason: `connection cap of ${this.maxConnections} reached` });
      return;
    }
    entry.sockets.add(socket);
    socket.once('close', () => entry.sockets.delete(socket));
    readFirstBytes(socket, this.options.firstBytesTimeoutMs ?? 10_000).then(
      (first) => {
        if (socket.destroyed) return;
        if (first.kind === 'unknown')
          return this.refuse(entry, socket, { target: '(unknown)', port, reason: first.reason });
        if (first.kind === 'http') return entry.forwarder.serve(prefixedStream(socket, first.bytes), { port });
        if (first.serverName === undefined) {
          return this.refuse(entry, socket, { target: '(no SNI)', port, reason: 'TLS without a server name' });
        }
        this.onTls(entry, { socket, port, serverName: first.serverName, bytes: first.bytes });
      },
      (err: unknown) => {
        entry.logger.warn({ err }, 'egress connection failed');
        socket.destroy();
      },
    );
  }

  private onTls(entry: Attached, conn: { socket: Socket; port: number; serverName: string; bytes: Buffer }): void {
    const { socket, port, serverName } = conn;
    const verdict = this.options.oracle.checkName(entry.view.sandboxId, serverName, port);
    if (!verdict.allowed) {
      this.refuse(entry, socket, { target: serverName, port, reason: verdict.reason });
      return;
    }
    if (secretsFor(serverName, this.secretsOf(entry.view.sandboxId), { tls: true }).length > 0) {
      this.terminate(entry, conn).catch((err: unknown) => {
        entry.logger.warn({ err, host: serverName }, 'TLS interception failed');
        socket.destroy();
      });
      return;
    }
    this.passThrough(entry, conn).catch((err: unknown) => {
      if (err instanceof EgressRefused) this.refuse(entry, socket, err);
      else socket.destroy();
    });
  }

  /** TLS to a host without secrets: the proxy never sees the plaintext. */
  private async passThrough(
    entry: Attached,
    conn: { socket: Socket; port: number; serverName: string; bytes: Buffer },
  ) {
    const deps = { sandboxId: entry.view.sandboxId, oracle: this.options.oracle, resolve: this.resolve };
    const [address] = await allowedAddresses(deps, conn.serverName, conn.port);
    if (conn.socket.destroyed) return;
    const upstream = netConnect({ host: address as string, port: conn.port, allowHalfOpen: true });
    upstream.setTimeout(this.options.connectTimeoutMs ?? 10_000, () => upstream.destroy(new Error('connect timeout')));
    upstream.once('connect', () => {
      upstream.setTimeout(0);
      upstream.write(conn.bytes);
      upstream.pipe(conn.socket);
      conn.socket.pipe(upstream);
      conn.socket.resume();
    });
    upstream.on('error', () => conn.socket.destroy());
    upstream.on('close', () => conn.socket.destroy());
    conn.socket.on('close', () => upstream.destroy());
  }

  /** TLS to a secret host: terminated with a leaf for its name, then forwarded request by request. */
  private async terminate(entry: Attached, conn: { socket: Socket; port: number; serverName: string; bytes: Buffer }) {
    const ca = await this.caOf(entry.view.sandboxId);
    const secureContext = await ca.contextFor(conn.serverName);
    if (conn.socket.destroyed) return;
    const tlsSocket = new TLSSocket(prefixedStream(conn.socket, conn.bytes), {
      isServer: true,
      secureContext,
      ALPNProtocols: ['http/1.1'],
    });
    tlsSocket.on('error', () => {
      tlsSocket.destroy();
      conn.socket.destroy();
    });
    entry.forwarder.serve(tlsSocket, { port: conn.port, tlsName: conn.serverName });
  }
}
