import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandEvent, RunCommandRequest } from '@paddock/protocol';
import type { Logger } from '../../core/logger.js';
import type { SandboxSecretStore } from '../../core/seams/store.js';
import { SandboxSecrets } from '../../secrets/sandbox-secrets.js';
import type { DeniedAttempt, EgressPolicyOracle } from '../egress-contract.js';
import { HostEgressProxy } from './host-egress-proxy.js';

/** Settings of the egress proxy (upstream DNS is the network's `PADDOCK_EGRESS_DNS`). */
export interface EgressProxyConfig {
  /** PEM file of extra CAs upstream servers may present (`PADDOCK_EGRESS_CA_FILE`). */
  caFile: string | undefined;
  /** Open proxied connections per sandbox (`PADDOCK_EGRESS_PROXY_MAX_CONNECTIONS`, default 256). */
  maxConnectionsPerSandbox: number;
}

export function loadEgressProxyConfig(
  overrides: Partial<EgressProxyConfig> = {},
  env: NodeJS.ProcessEnv = process.env,
): EgressProxyConfig {
  const raw = env.PADDOCK_EGRESS_PROXY_MAX_CONNECTIONS;
  const fromEnv = raw === undefined || raw === '' ? undefined : Number(raw);
  if (fromEnv !== undefined && (!Number.isInteger(fromEnv) || fromEnv < 1)) {
    throw new Error(`PADDOCK_EGRESS_PROXY_MAX_CONNECTIONS must be a positive integer, got '${raw}'`);
  }
  return {
    caFile: overrides.caFile ?? (env.PADDOCK_EGRESS_CA_FILE || undefined),
    maxConnectionsPerSandbox: overrides.maxConnectionsPerSandbox ?? fromEnv ?? 256,
  };
}

export interface EgressSetup {
  proxy: HostEgressProxy;
  secrets: SandboxSecrets;
  /** Stops the proxy's listeners (the secrets' values stay stored). */
  close(): Promise<void>;
}

/**
 * The egress proxy and the secrets it injects, assembled for the server. The policy oracle is
 * the sandbox network service, which itself attaches sandboxes to this proxy, so it is given
 * as a function that is called only once connections arrive.
 */
export function buildEgress(deps: {
  config: EgressProxyConfig;
  dnsServers: readonly string[];
  sandboxesDir: string;
  /** Where the secrets' values are kept for the proxy (they must survive a server restart). */
  secretStore: SandboxSecretStore;
  logger: Logger;
  oracle: () => EgressPolicyOracle;
  exec: (sandboxId: string, request: RunCommandRequest, signal?: AbortSignal) => AsyncIterable<CommandEvent>;
}): EgressSetup {
  const oracle: EgressPolicyOracle = {
    checkName: (id, host, port) => deps.oracle().checkName(id, host, port),
    checkAddress: (id, address, port) => deps.oracle().checkAddress(id, address, port),
    recordDenied: (id, attempt: DeniedAttempt) => deps.oracle().recordDenied(id, attempt),
  };
  let secrets: SandboxSecrets | undefined;
  const proxy = new HostEgressProxy({
    oracle,
    logger: deps.logger,
    // Under the sandbox's host dir: never mounted into it, and removed with it at destroy.
    caDirOf: (id) => join(deps.sandboxesDir, id, 'egress-ca'),
    dnsServers: deps.dnsServers,
    ...(deps.config.caFile ? { extraCaPem: readFileSync(deps.config.caFile, 'utf8') } : {}),
    maxConnectionsPerSandbox: deps.config.maxConnectionsPerSandbox,
    secretsOf: (id) => secrets?.rulesOf(id) ?? [],
    // The network detaches a sandbox from the proxy only when the sandbox is destroyed.
    onDetach: (id) => secrets?.forget(id),
  });
  secrets = new SandboxSecrets({
    tables: deps.secretStore,
    certificateAuthority: (id) => proxy.certificateAuthority(id),
    exec: deps.exec,
  });
  return {
    proxy,
    secrets,
    async close() {
      await proxy.close();
    },
  };
}
