import { z } from 'zod';
import { EnvVars } from './env.js';
import { NetworkInfo, NetworkRequest } from './network.js';
import { SecretInfo, SecretsRequest } from './secrets.js';

/** How a sandbox is isolated: an OCI container run by `crun`, or a gVisor sandbox run by `runsc`. */
export const Isolation = z.enum(['container', 'gvisor']);
export type Isolation = z.infer<typeof Isolation>;

/**
 * Lifecycle states. `killed` and `error` are final. `paused` keeps processes frozen in RAM;
 * `hibernated` keeps them on disk (or only the filesystem, see `capabilities`);
 * `pausing`, `hibernating` and `resuming` are the transitions between them.
 */
export const SandboxState = z.enum([
  'starting',
  'running',
  'stopping',
  'killed',
  'error',
  'pausing',
  'paused',
  'hibernating',
  'hibernated',
  'resuming',
]);
export type SandboxState = z.infer<typeof SandboxState>;

/**
 * Why a sandbox is in its state, as a stable code beside the free-text `reason` (which may
 * change wording between versions: match on this, show that). Set when a caller or the platform
 * stopped, paused or lost the sandbox; cleared when it runs again. The list is closed: SDKs
 * treat an unknown code from a newer server as a string.
 */
export const ReasonCode = z.enum([
  /** Killed by a call of the API (Paddock's or the E2B facade's), the SDKs or the CLI. */
  'api',
  /** Its `timeoutMs` ran out: killed, or paused/hibernated when `onTimeout` says so. */
  'timeout',
  /** A paused or hibernated sandbox was deleted when its `retentionMs` ran out. */
  'retention',
  /** The kernel's OOM killer ended the sandbox (its memory cgroup counted an OOM kill): raise `memoryMiB`. */
  'oom',
  /** The sandbox, or the agent that serves its calls, stopped on its own, not by out of memory. */
  'agent_lost',
  /** A server restart (a crash or kill -9 included) found the sandbox mid-operation or not running, and settled it. */
  'restart',
  /** The host rebooted since the server last ran: running sandboxes (their processes and memory) are gone. */
  'host_reboot',
  /** The create failed (runtime, network or secrets set-up): nothing of it runs. */
  'start_failed',
  /** Paddock itself failed: a hibernate the sandbox did not survive, or resources it could not free (retried at restart). */
  'internal',
]);
export type ReasonCode = z.infer<typeof ReasonCode>;

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
  /** How long a paused or hibernated sandbox is kept before it is deleted. */
  retentionMs: { min: 60_000, max: 90 * 24 * 3_600_000, default: 7 * 24 * 3_600_000 },
} as const;

/** What happens when a sandbox's `timeoutMs` runs out. */
export const OnTimeout = z.enum(['kill', 'pause', 'hibernate']);
export type OnTimeout = z.infer<typeof OnTimeout>;

/** Volume names: lowercase letters, digits, `-`, `_`, `.`; start with a letter or digit. */
export const VOLUME_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** A volume mounted into a sandbox at create. */
export const VolumeMount = z.strictObject({
  name: z.string().regex(VOLUME_NAME, 'volume name must be lowercase letters, digits, ".", "_" or "-" (≤ 64)'),
  /** Absolute path inside the sandbox, e.g. `/mnt/cache`. */
  path: z
    .string()
    .regex(/^\/[^\0]*$/, 'path must be absolute')
    .max(4_096)
    .refine((p) => !/(^|\/)\.\.?(\/|$)/.test(p) && p !== '/', 'path must not be / or contain . or .. segments'),
  readOnly: z.boolean().optional(),
});
export type VolumeMount = z.infer<typeof VolumeMount>;

/** What a sandbox's isolation supports; fixed at create. */
export const SandboxCapabilities = z.object({
  /** Freeze in RAM and thaw (always true). */
  pause: z.boolean(),
  /** `hibernate` keeps memory and processes (gVisor); false: only the filesystem survives (crun). */
  hibernateWithMemory: z.boolean(),
  /** `Sandbox.fork` works (gVisor). */
  fork: z.boolean(),
  /**
   * At its memory limit the sandbox loses a process, never its agent (crun: commands are the
   * OOM killer's first choice). False under gVisor: runsc has no per-process choice, and the
   * whole sandbox stops (its disk is kept: it becomes hibernated with `reasonCode: 'oom'`).
   */
  perProcessOom: z.boolean(),
});
export type SandboxCapabilities = z.infer<typeof SandboxCapabilities>;

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
  env: EnvVars.refine(
    (r) => Object.keys(r).length <= LIMITS.envEntries,
    `at most ${LIMITS.envEntries} env entries`,
  ).optional(),
  metadata: stringMap(LIMITS.metadataEntries, 'metadata').optional(),
  /** What happens at expiry: `kill` (default), `pause` or `hibernate`. */
  onTimeout: OnTimeout.optional(),
  /** Calls that need a running sandbox resume a paused or hibernated one instead of failing. */
  autoResume: z.boolean().optional(),
  /** How long a paused or hibernated sandbox is kept before it is deleted; default 7 days. */
  retentionMs: z.int().min(LIMITS.retentionMs.min).max(LIMITS.retentionMs.max).optional(),
  /** Named volumes to mount (create them first with `POST /v1/volumes`). */
  volumes: z
    .array(VolumeMount)
    .max(16)
    .refine((v) => new Set(v.map((m) => m.path)).size === v.length, 'each volume needs its own path')
    .optional(),
  /** Values the sandbox never sees: it gets a placeholder, the egress proxy adds the value towards `hosts` (see secrets.ts). */
  secrets: SecretsRequest.optional(),
  /** Egress policy and bandwidth cap (see network.ts). */
  network: NetworkRequest.optional(),
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
  /**
   * `reason` as a stable code (see {@link ReasonCode}), for programs: e.g. `oom` means retry with
   * more `memoryMiB`, `timeout` a longer `timeoutMs`. Absent while nothing stopped the sandbox.
   * A string, not the enum, so that an older client still parses a code a newer server adds.
   */
  reasonCode: z.string().optional(),
  /**
   * Set by servers with stateful sandboxes: what expiry does, whether calls resume it, and
   * how long it is kept while paused or hibernated (then `expiresAt` is when it is deleted).
   */
  onTimeout: OnTimeout.optional(),
  autoResume: z.boolean().optional(),
  retentionMs: z.number().optional(),
  capabilities: SandboxCapabilities.optional(),
  /** True after a filesystem-only hibernate: processes were restarted, memory was not kept. */
  processesRestarted: z.boolean().optional(),
  volumes: z.array(VolumeMount).optional(),
  /** Names and hosts of the sandbox's secrets (never their values). */
  secrets: z.array(SecretInfo).optional(),
  /** Egress policy and the sandbox's address. */
  network: NetworkInfo.optional(),
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
