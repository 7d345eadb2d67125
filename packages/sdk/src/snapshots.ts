import { type SnapshotInfo, SnapshotList } from '@paddock/protocol';
import { Connection, type ConnectionOptions, checked } from './connection.js';

/** Snapshots (sandbox filesystems saved as templates): list and delete. Take one with `sbx.snapshot()`. */
export const Snapshot = {
  async list(opts: ConnectionOptions = {}): Promise<SnapshotInfo[]> {
    const body = await new Connection(opts).json('GET', '/v1/snapshots', opts);
    return checked((v) => SnapshotList.safeParse(v), body).snapshots;
  },

  /** Deletes a snapshot; `ConflictError` while sandboxes (or other snapshots) use it. */
  async delete(name: string, opts: ConnectionOptions = {}): Promise<void> {
    await new Connection(opts).json('DELETE', `/v1/snapshots/${encodeURIComponent(name)}`, opts);
  },
};
