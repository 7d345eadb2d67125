import type { EgressMode, Isolation, OnTimeout, ReasonCode, SandboxState, VolumeMount } from '@paddock/protocol';

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

/** One sandbox's network as stored, so that a restarted server rebuilds firewall and resolvers. */
export interface NetworkRecord {
  sandboxId: string;
  /** Index of the sandbox's /30 in the server subnet; null when it has no interface (gVisor `none`). */
  slot: number | null;
  egress: EgressMode;
  allow: string[];
  bandwidthMbit: number;
}

/** Stored as the port of a sandbox-wide public flag (E2B's `allowPublicTraffic`, on by default there). */
export const ALL_PORTS = 0;

/** Which ports of which sandbox are public (the key that signs port tokens is a server secret). */
export interface PortStore {
  setPublic(sandboxId: string, port: number, isPublic: boolean): void;
  /** True when this port, or every port of the sandbox (the row with port {@link ALL_PORTS}), is public. */
  isPublic(sandboxId: string, port: number): boolean;
  /** The ports made public one by one (not the sandbox-wide flag), ascending. */
  publicPorts(sandboxId: string): number[];
  /** Forgets a sandbox's ports (once it is killed). */
  forget(sandboxId: string): void;
}

/**
 * Secrets of sandboxes, on the host only: the egress proxy needs the values again after a
 * server restart. Rows go when their sandbox is gone (see `SandboxSecrets.keepOnly`).
 */
export interface SandboxSecretStore {
  /** Adds or replaces the sandbox's rules by name, all or none. */
  put(sandboxId: string, rules: readonly SecretRule[]): void;
  /** The sandbox's rules, by name. */
  get(sandboxId: string): SecretRule[];
  remove(sandboxId: string): void;
  /** Ids that have secrets. */
  sandboxIds(): string[];
}

/** Every sandbox's network record. Slots are unique, so two sandboxes never share a /30. */
export interface NetworkStore {
  /** Stores the record with the lowest free slot below `slotCount` (or none); returns the slot. */
  insert(record: Omit<NetworkRecord, 'slot'>, withSlot: boolean, slotCount: number): number | null;
  get(sandboxId: string): NetworkRecord | undefined;
  list(): NetworkRecord[];
  updatePolicy(sandboxId: string, policy: Pick<NetworkRecord, 'egress' | 'allow' | 'bandwidthMbit'>): void;
  delete(sandboxId: string): void;
}

/**
 * Persistence as core and the adapters need it, on one connection. Implemented on SQLite
 * (`sqlite-store.ts`); a Kubernetes deployment would implement it on PostgreSQL. The feature
 * tables of the adapters (ports, secrets, networks) are small sub-stores, so this interface
 * does not grow with each feature.
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

  readonly ports: PortStore;
  readonly sandboxSecrets: SandboxSecretStore;
  readonly networks: NetworkStore;

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
