import { z } from 'zod';

/** How a sandbox is isolated: an OCI container run by `crun`, or a gVisor sandbox run by `runsc`. */
export const Isolation = z.enum(['container', 'gvisor']);
export type Isolation = z.infer<typeof Isolation>;

/** Lifecycle states. `killed` and `error` are final. */
export const SandboxState = z.enum(['starting', 'running', 'stopping', 'killed', 'error']);
export type SandboxState = z.infer<typeof SandboxState>;

/** Limits enforced on create; the server names the field when a value falls outside them. */
export const LIMITS = {
  timeoutMs: { min: 1_000, max: 7 * 24 * 3_600_000, default: 300_000 },
  memoryMiB: { min: 64, max: 65_536, default: 512 },
  cpus: { min: 0.05, max: 64, default: 1 },
  diskMiB: { min: 64, max: 1_048_576, default: 2_048 },
  pids: { min: 16, max: 65_536, default: 1_024 },
  envEntries: 256,
  metadataEntries: 64,
  commandTimeoutMs: { max: 24 * 3_600_000, default: 60_000 },
} as const;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const stringMap = (max: number, what: string) =>
  z
    .record(z.string().min(1).max(256), z.string().max(65_536))
    .refine((r) => Object.keys(r).length <= max, `at most ${max} ${what} entries`);

/** Body of `POST /v1/sandboxes`. Every field is optional; defaults come from {@link LIMITS}. */
export const CreateSandboxRequest = z.strictObject({
  template: z.string().min(1).max(128).optional(),
  timeoutMs: z.int().min(LIMITS.timeoutMs.min).max(LIMITS.timeoutMs.max).optional(),
  memoryMiB: z.int().min(LIMITS.memoryMiB.min).max(LIMITS.memoryMiB.max).optional(),
  cpus: z.number().min(LIMITS.cpus.min).max(LIMITS.cpus.max).optional(),
  diskMiB: z.int().min(LIMITS.diskMiB.min).max(LIMITS.diskMiB.max).optional(),
  pids: z.int().min(LIMITS.pids.min).max(LIMITS.pids.max).optional(),
  isolation: Isolation.optional(),
  env: stringMap(LIMITS.envEntries, 'env')
    .refine((r) => Object.keys(r).every((k) => ENV_NAME.test(k)), 'names must match [A-Za-z_][A-Za-z0-9_]*')
    .optional(),
  metadata: stringMap(LIMITS.metadataEntries, 'metadata').optional(),
});
export type CreateSandboxRequest = z.infer<typeof CreateSandboxRequest>;

/** A sandbox as the API reports it. Times are ISO-8601 strings. */
export const SandboxInfo = z.object({
  id: z.string(),
  template: z.string(),
  isolation: Isolation,
  state: SandboxState,
  createdAt: z.string(),
  /** When the sandbox is killed unless its timeout is extended. */
  expiresAt: z.string(),
  memoryMiB: z.number(),
  cpus: z.number(),
  diskMiB: z.number(),
  pids: z.number(),
  metadata: z.record(z.string(), z.string()),
  /** Why the sandbox is in `error` (or was killed by the platform, e.g. out of memory). */
  reason: z.string().optional(),
});
export type SandboxInfo = z.infer<typeof SandboxInfo>;

/** Body of `GET /v1/sandboxes`. */
export const SandboxList = z.object({ sandboxes: z.array(SandboxInfo) });
export type SandboxList = z.infer<typeof SandboxList>;

/** Body of `POST /v1/sandboxes/:id/timeout`. */
export const SetTimeoutRequest = z.strictObject({
  timeoutMs: z.int().min(LIMITS.timeoutMs.min).max(LIMITS.timeoutMs.max),
});
export type SetTimeoutRequest = z.infer<typeof SetTimeoutRequest>;

/** Sandbox ids: lowercase letters and digits only (the `{port}-{id}.{domain}` host pattern forbids `-`). */
export const SANDBOX_ID = /^[a-z0-9]{20}$/;
