import type { Isolation, SandboxState } from '@paddock/protocol';

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
  reason: string | null;
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

  addApiKeyHash(hash: string, label: string): void;
  hasApiKeyHash(hash: string): boolean;
  countApiKeys(): number;

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
