import { z } from 'zod';
import { SandboxInfo, VOLUME_NAME } from './sandbox.js';
import { TEMPLATE_NAME } from './templates.js';

/** Body of `POST /v1/sandboxes/:id/hibernate`. */
export const HibernateRequest = z.strictObject({
  /**
   * Keep memory and processes (default true). crun sandboxes cannot: they need an explicit
   * `false` (only the filesystem survives; processes restart on resume).
   */
  keepMemory: z.boolean().optional(),
});
export type HibernateRequest = z.infer<typeof HibernateRequest>;

/** Body of `POST /v1/sandboxes/:id/snapshot`. */
export const SnapshotRequest = z.strictObject({
  name: z.string().regex(TEMPLATE_NAME, 'name must be lowercase letters, digits, ".", "_" or "-" (≤ 64)'),
});
export type SnapshotRequest = z.infer<typeof SnapshotRequest>;

/** A snapshot: a sandbox's filesystem, usable as `template` in create. */
export const SnapshotInfo = z.object({
  name: z.string(),
  /** The sandbox it was taken from. */
  sandboxId: z.string(),
  /** The template at the bottom of its layers. */
  baseTemplate: z.string(),
  sizeBytes: z.number(),
  createdAt: z.string(),
});
export type SnapshotInfo = z.infer<typeof SnapshotInfo>;

/** Body of `GET /v1/snapshots`. */
export const SnapshotList = z.object({ snapshots: z.array(SnapshotInfo) });
export type SnapshotList = z.infer<typeof SnapshotList>;

/** Body of `POST /v1/sandboxes/:id/fork`. */
export const ForkRequest = z.strictObject({
  count: z.int().min(1, 'count must be at least 1'),
  metadata: z.record(z.string().min(1).max(256), z.string().max(65_536)).optional(),
});
export type ForkRequest = z.infer<typeof ForkRequest>;

/** Answer of a fork: the new sandboxes. */
export const ForkResult = z.object({ sandboxes: z.array(SandboxInfo) });
export type ForkResult = z.infer<typeof ForkResult>;

/** Body of `POST /v1/volumes`. */
export const CreateVolumeRequest = z.strictObject({
  name: z.string().regex(VOLUME_NAME, 'name must be lowercase letters, digits, ".", "_" or "-" (≤ 64)'),
  sizeMiB: z.int().min(16).max(1_048_576),
});
export type CreateVolumeRequest = z.infer<typeof CreateVolumeRequest>;

/** A named persistent volume. */
export const VolumeInfo = z.object({
  name: z.string(),
  sizeMiB: z.number(),
  createdAt: z.string(),
  /** Sandboxes (not killed) that mount it. */
  usedBy: z.array(z.string()),
});
export type VolumeInfo = z.infer<typeof VolumeInfo>;

/** Body of `GET /v1/volumes`. */
export const VolumeList = z.object({ volumes: z.array(VolumeInfo) });
export type VolumeList = z.infer<typeof VolumeList>;
