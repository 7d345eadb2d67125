import type { CreateSandboxRequest } from '@paddock/protocol';
import type { SecretRule } from './seams/store.js';

/** What a create with secrets becomes: env the sandbox sees, and rules only the host keeps. */
export interface PreparedSecrets {
  env: Record<string, string>;
  rules: SecretRule[];
}

/**
 * The secrets of a create as the lifecycle sees them (implemented in `secrets/`): placeholders
 * before anything is made, the values handed to the egress side once the sandbox runs, and
 * forgotten when the create is rolled back.
 */
export interface CreateSecrets {
  /** Placeholders for the request's secrets (undefined when it has none); throws typed errors. */
  prepare(req: CreateSandboxRequest): PreparedSecrets | undefined;
  /** Stores the rules for the egress proxy and makes the sandbox trust its egress CA. */
  commit(sandboxId: string, rules: SecretRule[], signal?: AbortSignal): Promise<void>;
  /** Drops the sandbox's secrets. */
  forget(sandboxId: string): void;
  /** Drops the secrets of every sandbox not in `liveIds` (values must not outlive their sandbox). */
  keepOnly(liveIds: ReadonlySet<string>): void;
}
