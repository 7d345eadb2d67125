import type { Isolation, OnTimeout, ReasonCode, SandboxState, VolumeMount } from '@paddock/protocol';

/** A sandbox row as core sees it. Times are epoch milliseconds. */
export interface SandboxRecord {
  id: string;
  template: string;
  templateHash: string;
  isolation: Isolation;
  state: SandboxState;
  createdAtMs: number;
  /** Null while the sandbox waits unclaimed in the warm pool (it has no timeout then). */
  expiresAtMs: number | null;
  memoryMiB: number;
  cpus: number;
  diskMiB: number;
  pids: number;
  env: Record<string, string>;
  metadata: Record<string, string>;
  /** True while the sandbox is a ready spare in the warm pool, not yet handed to a user. */
  pooled: boolean;
  /** Why it is in its state (free text, for people), null while nothing stopped it. */
  reason: string | null;
  /** `reason` as a stable code; set and cleared together with it. */
  reasonCode: ReasonCode | null;
  /** The lifetime given at create (or by setTimeout): expiry is this long after each resume. */
  timeoutMs: number;
  onTimeout: OnTimeout;
  autoResume: boolean;
  /** While paused or hibernated, `expiresAtMs` is this long after the pause; then it is deleted. */
  retentionMs: number;
  volumes: VolumeMount[];
  /** Set by a filesystem-only hibernate + resume: the processes were started afresh. */
  processesRestarted: boolean;
}

/** A sandbox's secret as stored and as the egress proxy holds it: only on the host, never inside the sandbox. */
export interface SecretRule {
  /** Env var name the sandbox sees, e.g. OPENAI_API_KEY. */
  name: string;
  /** The value the sandbox sees instead of the secret. */
  placeholder: string;
  value: string;
  /** Lowercase host names (exact or `*.suffix`) towards which the placeholder is replaced. */
  hosts: string[];
  /** Lowercase request header names the placeholder is replaced in; undefined: any header. */
  headers?: string[] | undefined;
  /** Replaced over plain HTTP too; otherwise only in requests the proxy received over TLS. */
  allowInsecureHttp?: boolean | undefined;
}

/** A named volume: a size-capped ext4 image under the data dir. */
export interface VolumeRecord {
  name: string;
  sizeMiB: number;
  createdAtMs: number;
}

/** A sandbox's filesystem frozen as a template: its layers over a base template. */
export interface SnapshotRecord {
  name: string;
  sandboxId: string;
  baseTemplate: string;
  baseHash: string;
  /** Host dirs of its read-only layers, topmost first. */
  layers: string[];
  sizeBytes: number;
  createdAtMs: number;
}

/** A template name and what it points at. */
export interface TemplateRecord {
  name: string;
  specHash: string;
  createdAtMs: number;
}

/** Filters of {@link Store.listSandboxes}. */
export interface SandboxFilter {
  states?: readonly SandboxState[];
  metadata?: Record<string, string>;
  pooled?: boolean;
}

/**
 * Persistence as core needs it. Implemented on SQLite (`sqlite-store.ts`); a Kubernetes
 * deployment would implement it on PostgreSQL.
 */
export interface Store {
  insertSandbox(record: SandboxRecord): void;
  getSandbox(id: string): SandboxRecord | undefined;
  updateSandbox(id: string, patch: Partial<Omit<SandboxRecord, 'id'>>): void;
  listSandboxes(filter?: SandboxFilter): SandboxRecord[];
  deleteSandbox(id: string): void;
  /** Atomically takes one pooled sandbox matching `match` and marks it claimed. */
  claimPooled(match: PoolKey, patch: Partial<Omit<SandboxRecord, 'id'>>): SandboxRecord | undefined;

  putTemplate(record: TemplateRecord): void;
  getTemplate(name: string): TemplateRecord | undefined;
  listTemplates(): TemplateRecord[];
  deleteTemplate(name: string): void;

  putVolume(record: VolumeRecord): void;
  getVolume(name: string): VolumeRecord | undefined;
  listVolumes(): VolumeRecord[];
  deleteVolume(name: string): void;

  putSnapshot(record: SnapshotRecord): void;
  getSnapshot(name: string): SnapshotRecord | undefined;
  listSnapshots(): SnapshotRecord[];
  deleteSnapshot(name: string): void;

  addApiKeyHash(hash: string, label: string): void;
  hasApiKeyHash(hash: string): boolean;
  countApiKeys(): number;

  /** A named server secret, made by `make` on first use and kept from then on (survives restarts). */
  secret(name: string, make: () => string): string;

  close(): void;
}

/** The shape of sandbox a warm pool holds spares for. */
export interface PoolKey {
  templateHash: string;
  isolation: Isolation;
  memoryMiB: number;
  cpus: number;
  diskMiB: number;
  pids: number;
}
