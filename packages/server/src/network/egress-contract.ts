import type { SecretRule } from '../core/seams/store.js';

/**
 * The seam between a sandbox's network (namespace, addresses, nftables, DNS: `sandbox-network`)
 * and the host's egress proxy (SNI/Host matching, secrets: `egress-proxy/`).
 *
 * Names that must be checked by name, not by address (allow-listed domains, hosts that get
 * secrets) resolve, inside the sandbox, to the host side of the sandbox's veth; the egress
 * proxy listens there, reads the TLS SNI or HTTP Host, asks the policy, and connects out.
 * Everything else is decided by nftables on addresses alone.
 */

/** Where one sandbox's network lives, as the proxy needs it. */
export interface SandboxEgressView {
  sandboxId: string;
  /** Host side of the sandbox's veth: the DNS resolver and the egress proxy listen here. */
  hostAddress: string;
  /** The sandbox's own address (source of its connections). */
  sandboxAddress: string;
}

/** One refused connection or lookup, kept per sandbox (a bounded ring) for `paddock net ID`. */
export interface DeniedAttempt {
  /** ISO-8601 time. */
  at: string;
  /** Which layer refused it. */
  layer: 'dns' | 'proxy' | 'firewall';
  /** The name or address the sandbox tried. */
  target: string;
  port?: number;
  reason: string;
}

export type EgressVerdict = { allowed: true } | { allowed: false; reason: string };

/** Implemented by the sandbox network side; the proxy asks it on every connection. */
export interface EgressPolicyOracle {
  /** May this sandbox reach `host` (a DNS name from SNI/Host, lowercase) on `port`? Reads the live policy. */
  checkName(sandboxId: string, host: string, port: number): EgressVerdict;
  /** May it reach this resolved address? (never private/link-local/host ranges unless the operator allowed them) */
  checkAddress(sandboxId: string, address: string, port: number): EgressVerdict;
  recordDenied(sandboxId: string, attempt: DeniedAttempt): void;
}

/** Implemented by the egress proxy. */
export interface EgressProxy {
  /** Starts listening for this sandbox on its host address (ports 80, 443 and any port named by a domain rule). */
  attach(view: SandboxEgressView, secrets: SecretRule[], ports: number[]): Promise<void>;
  /** Changes the ports listened on after a live policy update. */
  updatePorts(sandboxId: string, ports: number[]): Promise<void>;
  detach(sandboxId: string): Promise<void>;
  /** True when the resolver must answer `name` with the host address so that the proxy sees it (secret hosts, in every mode). */
  intercepts(sandboxId: string, name: string): boolean;
}
