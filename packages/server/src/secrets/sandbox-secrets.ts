import { randomBytes } from 'node:crypto';
import {
  type CommandEvent,
  type CreateSandboxRequest,
  isErrorCode,
  PaddockError,
  type RunCommandRequest,
  type SecretInfo,
} from '@paddock/protocol';
import type { CreateSecrets, PreparedSecrets } from '../core/create-secrets.js';
import type { SandboxSecretStore, SecretRule } from '../core/seams/store.js';

/** Where the sandbox finds the egress CA, and the bundle it is appended to. */
export const SANDBOX_CA_FILE = '/usr/local/share/ca-certificates/paddock-egress.crt';
export const SANDBOX_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * Env that makes the usual clients trust the egress CA: OpenSSL-based ones (curl, Python's
 * ssl/urllib, git) read the system bundle, which gets the CA appended, and are pointed at it
 * explicitly too; `requests` reads REQUESTS_CA_BUNDLE; Node keeps its own roots and adds
 * NODE_EXTRA_CA_CERTS.
 */
export const TRUST_ENV: Readonly<Record<string, string>> = {
  SSL_CERT_FILE: SANDBOX_CA_BUNDLE,
  REQUESTS_CA_BUNDLE: SANDBOX_CA_BUNDLE,
  CURL_CA_BUNDLE: SANDBOX_CA_BUNDLE,
  NODE_EXTRA_CA_CERTS: SANDBOX_CA_FILE,
};

/** Written as root inside the sandbox with the CA on stdin; appending twice is avoided. */
const INSTALL_TRUST = `set -e
mkdir -p /usr/local/share/ca-certificates /etc/ssl/certs
cat > ${SANDBOX_CA_FILE}
chmod 644 ${SANDBOX_CA_FILE}
marker="$(sed -n 2p ${SANDBOX_CA_FILE})"
if ! grep -qF "$marker" ${SANDBOX_CA_BUNDLE} 2>/dev/null; then cat ${SANDBOX_CA_FILE} >> ${SANDBOX_CA_BUNDLE}; fi`;

export interface SandboxSecretsDeps {
  tables: SandboxSecretStore;
  /** The sandbox's egress CA certificate (PEM), created on first call. */
  certificateAuthority: (sandboxId: string) => Promise<string>;
  /** Runs a command in the sandbox through its agent. */
  exec: (sandboxId: string, request: RunCommandRequest, signal?: AbortSignal) => AsyncIterable<CommandEvent>;
}

/**
 * The secrets of sandboxes: placeholders at create, the values on the host (SQLite) for the
 * egress proxy, and the CA the sandbox must trust for the proxy's TLS interception.
 */
export class SandboxSecrets implements CreateSecrets {
  private readonly cache = new Map<string, SecretRule[]>();

  constructor(private readonly deps: SandboxSecretsDeps) {}

  /** Placeholders for the request's secrets (undefined when it has none). */
  prepare(req: CreateSandboxRequest): PreparedSecrets | undefined {
    const entries = Object.entries(req.secrets ?? {});
    if (entries.length === 0) return undefined;
    const env: Record<string, string> = { ...TRUST_ENV };
    const rules: SecretRule[] = [];
    for (const [name, spec] of entries) {
      if (req.env && Object.hasOwn(req.env, name)) {
        throw new PaddockError(
          'INVALID_ARGUMENT',
          `secrets.${name}: the name is also set in env; give it in one place`,
          {
            field: `secrets.${name}`,
          },
        );
      }
      const placeholder = `paddock-secret-${randomBytes(12).toString('hex')}`;
      env[name] = placeholder;
      rules.push({
        name,
        placeholder,
        value: spec.value,
        hosts: [...new Set(spec.hosts)],
        ...(spec.headers ? { headers: [...new Set(spec.headers)] } : {}),
        ...(spec.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
      });
    }
    return { env, rules };
  }

  /** Stores the rules and makes the sandbox trust its egress CA. */
  async commit(sandboxId: string, rules: SecretRule[], signal?: AbortSignal): Promise<void> {
    this.deps.tables.put(sandboxId, rules);
    this.cache.set(sandboxId, rules);
    const caPem = await this.deps.certificateAuthority(sandboxId);
    const request: RunCommandRequest = {
      cmd: INSTALL_TRUST,
      user: 'root',
      timeoutMs: 30_000,
      stdinBase64: Buffer.from(caPem).toString('base64'),
    };
    let output = '';
    for await (const event of this.deps.exec(sandboxId, request, signal)) {
      if (event.type === 'stderr' || event.type === 'stdout') output += Buffer.from(event.data, 'base64').toString();
      if (event.type === 'error')
        throw new PaddockError(
          isErrorCode(event.error.code) ? event.error.code : 'INTERNAL',
          `installing the egress CA: ${event.error.message}`,
        );
      if (event.type === 'exit' && event.exitCode !== 0) {
        throw new PaddockError(
          'INTERNAL',
          `installing the egress CA failed (exit ${event.exitCode}): ${output.slice(0, 500)}`,
        );
      }
    }
  }

  /** The sandbox's secrets as the egress proxy uses them. */
  rulesOf(sandboxId: string): SecretRule[] {
    let rules = this.cache.get(sandboxId);
    if (!rules) {
      rules = this.deps.tables.get(sandboxId);
      this.cache.set(sandboxId, rules);
    }
    return rules;
  }

  /** Names and hosts, as SandboxInfo shows them. */
  infoOf(sandboxId: string): SecretInfo[] {
    return this.rulesOf(sandboxId).map((r) => ({
      name: r.name,
      hosts: r.hosts,
      ...(r.headers ? { headers: r.headers } : {}),
      ...(r.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
    }));
  }

  /** Drops the secrets of every sandbox not in `liveIds` (the values must not outlive their sandbox). */
  keepOnly(liveIds: ReadonlySet<string>): void {
    for (const id of this.deps.tables.sandboxIds()) {
      if (!liveIds.has(id)) this.forget(id);
    }
    for (const id of this.cache.keys()) if (!liveIds.has(id)) this.cache.delete(id);
  }

  forget(sandboxId: string): void {
    this.deps.tables.remove(sandboxId);
    this.cache.delete(sandboxId);
  }
}
