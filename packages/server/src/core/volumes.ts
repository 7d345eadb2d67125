import { type CreateVolumeRequest, PaddockError, type VolumeMount } from '@paddock/protocol';
import type { Clock } from './clock.js';
import { failpoint } from './failpoints.js';
import { FINAL_STATES } from './sandbox-service.js';
import type { Store, VolumeRecord } from './seams/store.js';

/** The volumes' disks on the host, as the volume service drives them (runtime/volume-disk.ts). */
export interface VolumeDisks {
  /** Host dir of the volume's files, bound into the sandboxes that mount it. */
  dataDir(name: string): string;
  create(name: string, sizeMiB: number, signal?: AbortSignal): Promise<void>;
  /** Names of the disks on the host, recorded or not. */
  names(): Promise<string[]>;
  mount(name: string, signal?: AbortSignal): Promise<void>;
  remove(name: string, signal?: AbortSignal): Promise<void>;
}

/** Named persistent volumes: create, list, delete (not while mounted), and binds for a create. */
export class Volumes {
  constructor(private readonly deps: { store: Store; disks: VolumeDisks; clock: Clock }) {}

  async create(req: CreateVolumeRequest, signal?: AbortSignal): Promise<VolumeRecord> {
    if (this.deps.store.getVolume(req.name)) {
      throw new PaddockError('CONFLICT', `name: a volume named '${req.name}' exists already`, { field: 'name' });
    }
    await this.deps.disks.create(req.name, req.sizeMiB, signal);
    failpoint('volume.made');
    const record = { name: req.name, sizeMiB: req.sizeMiB, createdAtMs: this.deps.clock.now() };
    this.deps.store.putVolume(record);
    return record;
  }

  get(name: string): VolumeRecord {
    const record = this.deps.store.getVolume(name);
    if (!record) throw new PaddockError('NOT_FOUND', `volume '${name}' does not exist`, { volume: name });
    return record;
  }

  list(): VolumeRecord[] {
    return this.deps.store.listVolumes();
  }

  /** Ids of sandboxes (not killed or failed) that mount the volume. */
  usedBy(name: string): string[] {
    return this.deps.store
      .listSandboxes({ pooled: false })
      .filter((r) => !FINAL_STATES.includes(r.state) && r.volumes.some((v) => v.name === name))
      .map((r) => r.id);
  }

  async delete(name: string, signal?: AbortSignal): Promise<void> {
    this.get(name);
    const users = this.usedBy(name);
    if (users.length > 0) {
      throw new PaddockError(
        'CONFLICT',
        `volume '${name}' is mounted by sandbox(es) ${users.join(', ')}: kill them first`,
        {
          volume: name,
          sandboxIds: users,
        },
      );
    }
    await this.deps.disks.remove(name, signal);
    this.deps.store.deleteVolume(name);
  }

  /** Bind mounts for a create; NOT_FOUND naming the volume when one does not exist. */
  binds(mounts: readonly VolumeMount[]): { source: string; destination: string; readOnly: boolean }[] {
    return mounts.map((m) => {
      if (!this.deps.store.getVolume(m.name)) {
        throw new PaddockError('NOT_FOUND', `volumes: no volume named '${m.name}' (create it with POST /v1/volumes)`, {
          field: 'volumes',
          volume: m.name,
        });
      }
      return { source: this.deps.disks.dataDir(m.name), destination: m.path, readOnly: m.readOnly ?? false };
    });
  }

  /** Mounts every volume's image (server start; after a reboot the loop mounts are gone). */
  /**
   * At start: mounts every stored volume, and removes disks no stored volume owns (a create
   * that a crash cut short between making the disk and recording it). Returns those removed.
   */
  async mountAll(signal?: AbortSignal): Promise<string[]> {
    for (const v of this.list()) await this.deps.disks.mount(v.name, signal);
    const stored = new Set(this.list().map((v) => v.name));
    const leftovers = (await this.deps.disks.names()).filter((name) => !stored.has(name));
    for (const name of leftovers) await this.deps.disks.remove(name, signal);
    return leftovers;
  }
}
