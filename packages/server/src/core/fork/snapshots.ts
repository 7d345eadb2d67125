import { randomBytes } from 'node:crypto';
import { PaddockError } from '@paddock/protocol';
import type { Clock } from '../clock.js';
import { failpoint } from '../failpoints.js';
import { LIVE_STATES, type SandboxService } from '../sandbox-service.js';
import type { Runtime } from '../seams/runtime.js';
import type { SnapshotRecord, Store } from '../seams/store.js';
import type { ResolvedTemplate, TemplateCatalog } from '../templates.js';

export interface SnapshotsDeps {
  service: SandboxService;
  store: Store;
  clock: Clock;
  /** The built templates (snapshots sit on top of them). */
  base: TemplateCatalog;
  /** Host side: copy a sandbox's layer to a new dir, measure it, remove it, rename it. */
  disk: {
    dirFor(name: string, nonce: string): string;
    sizeBytes(dir: string): Promise<number>;
    remove(dir: string): Promise<void>;
    rename(from: string, to: string): Promise<void>;
    /** Every snapshot dir there is, finished or not. */
    list(): Promise<string[]>;
  };
}

/**
 * Snapshots: a sandbox's filesystem as a template. Not a full copy of the root: the
 * sandbox's writable layer (its changes over the template) is copied once into a read-only
 * layer, and sandboxes created from the snapshot mount it as an extra overlay lower dir
 * above the template's. Cheap to take (the size of the changes) and to start from; the
 * price is that the base template stays in use while the snapshot exists.
 * The sandbox is frozen during the copy so that the layer is consistent.
 */
export class Snapshots implements TemplateCatalog {
  constructor(private readonly deps: SnapshotsDeps) {}

  async create(sandboxId: string, name: string, signal?: AbortSignal): Promise<SnapshotRecord> {
    const { service, store } = this.deps;
    if (store.getSnapshot(name) || this.deps.base.resolve(name)) {
      throw new PaddockError('CONFLICT', `name: a template or snapshot named '${name}' exists already`, {
        field: 'name',
      });
    }
    const record = service.get(sandboxId);
    if (!['running', 'paused', 'hibernated'].includes(record.state)) {
      throw new PaddockError('SANDBOX_NOT_RUNNING', `cannot snapshot sandbox '${sandboxId}': it is ${record.state}`, {
        sandboxId,
        state: record.state,
      });
    }
    const base = this.resolveHash(record.templateHash);
    if (!base) throw new PaddockError('CONFLICT', `the template of sandbox '${sandboxId}' no longer exists`);
    const runtime: Runtime = service.runtimeFor(record.isolation);
    const dir = this.deps.disk.dirFor(name, randomBytes(4).toString('hex'));
    const tmp = `${dir}.tmp`;
    const freeze = record.state === 'running';
    if (freeze) await runtime.pause(sandboxId, signal);
    try {
      failpoint('snapshot.frozen');
      await runtime.exportLayer(sandboxId, tmp, signal);
      failpoint('snapshot.copied');
    } catch (err) {
      await this.deps.disk.remove(tmp);
      throw new PaddockError('INTERNAL', `snapshot failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      if (freeze) await runtime.resume(sandboxId, signal);
    }
    await this.deps.disk.rename(tmp, dir);
    const parent = store.getSnapshot(record.template);
    const snapshot: SnapshotRecord = {
      name,
      sandboxId,
      baseTemplate: parent ? parent.baseTemplate : record.template,
      baseHash: parent ? parent.baseHash : record.templateHash,
      layers: [dir, ...(base.layers ?? [])],
      sizeBytes: await this.deps.disk.sizeBytes(dir),
      createdAtMs: this.deps.clock.now(),
    };
    store.putSnapshot(snapshot);
    return snapshot;
  }

  /**
   * Removes snapshot dirs no stored snapshot owns: copies a crash cut short (temp or finished
   * but not yet recorded). Run at start, before any snapshot can be in progress.
   */
  async removeLeftovers(): Promise<string[]> {
    const owned = new Set(this.list().flatMap((s) => s.layers));
    const leftovers = (await this.deps.disk.list()).filter((dir) => !owned.has(dir));
    for (const dir of leftovers) await this.deps.disk.remove(dir);
    return leftovers;
  }

  list(): SnapshotRecord[] {
    return this.deps.store.listSnapshots();
  }

  async delete(name: string): Promise<void> {
    const snapshot = this.deps.store.getSnapshot(name);
    if (!snapshot) throw new PaddockError('NOT_FOUND', `snapshot '${name}' does not exist`, { snapshot: name });
    const users = this.deps.store
      .listSandboxes({ states: LIVE_STATES })
      .filter((r) => r.templateHash === hashOf(name))
      .map((r) => r.id);
    const layer = snapshot.layers[0];
    const children = this.list().filter((s) => s.name !== name && layer !== undefined && s.layers.includes(layer));
    if (users.length > 0 || children.length > 0) {
      const what = [
        ...(users.length ? [`sandbox(es) ${users.join(', ')}`] : []),
        ...(children.length ? [`snapshot(s) ${children.map((c) => c.name).join(', ')}`] : []),
      ].join(' and ');
      throw new PaddockError('CONFLICT', `snapshot '${name}' is in use by ${what}: kill or delete them first`, {
        snapshot: name,
        sandboxIds: users,
      });
    }
    this.deps.store.deleteSnapshot(name);
    if (layer !== undefined) await this.deps.disk.remove(layer);
  }

  /** Base hashes that snapshots depend on (their templates must not be deleted). */
  baseHashes(): Set<string> {
    return new Set(this.list().map((s) => s.baseHash));
  }

  resolve(name: string): ResolvedTemplate | undefined {
    const snapshot = this.deps.store.getSnapshot(name);
    if (!snapshot) return this.deps.base.resolve(name);
    return this.asTemplate(snapshot);
  }

  resolveHash(specHash: string): ResolvedTemplate | undefined {
    if (!specHash.startsWith(SNAPSHOT_HASH)) return this.deps.base.resolveHash(specHash);
    const snapshot = this.deps.store.getSnapshot(specHash.slice(SNAPSHOT_HASH.length));
    return snapshot && this.asTemplate(snapshot);
  }

  private asTemplate(snapshot: SnapshotRecord): ResolvedTemplate | undefined {
    const base = this.deps.base.resolveHash(snapshot.baseHash);
    if (!base) return undefined;
    return { ...base, name: snapshot.name, specHash: hashOf(snapshot.name), layers: snapshot.layers };
  }
}

/** Sandboxes from a snapshot record this as their template hash. */
const SNAPSHOT_HASH = 'snapshot:';
function hashOf(name: string): string {
  return `${SNAPSHOT_HASH}${name}`;
}
