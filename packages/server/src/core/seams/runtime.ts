import type { Isolation, SandboxCapabilities } from '@paddock/protocol';

/**
 * What the agent inside a sandbox is told at start, written by the driver to
 * `/run/paddock/config.json` inside the sandbox (host: `<sandboxDir>/run/config.json`).
 */
export interface AgentConfig {
  /** Environment every command starts with (template env, then sandbox env). */
  env: Record<string, string>;
  /** User that commands and file operations run as when the caller names none. */
  defaultUser: string;
  /** Working directory of commands when the caller names none. */
  workdir: string;
}

/** Everything a driver needs to start one sandbox. */
export interface SandboxLaunch {
  /** 20 lowercase letters/digits; also the runtime's container id. */
  id: string;
  /** Read-only root filesystem of the template (already uid-shifted, see `uid-map.ts`). */
  rootfs: string;
  memoryMiB: number;
  cpus: number;
  /** Cap of the writable layer. */
  diskMiB: number;
  pids: number;
  hostname: string;
  agent: AgentConfig;
  /** Extra read-only layers above `rootfs`, topmost first (snapshots). */
  layers?: string[];
  /** Host dirs bind-mounted into the sandbox (volumes). */
  binds?: { source: string; destination: string; readOnly: boolean }[];
  /** The host-made network; without it crun gets an empty netns and runsc `--network=none`. */
  network?: NetworkAttachment;
}

/** A network the host made for the sandbox (see `network/`): joined instead of a new empty netns. */
export interface NetworkAttachment {
  /** Bind mount of the network namespace. */
  netnsPath: string;
  /** Host files bind-mounted read-only at /etc/resolv.conf and /etc/hosts. */
  resolvConf: string;
  hosts: string;
}

/** Whether a hibernate kept memory and processes, or only the filesystem. */
export type HibernateMode = 'memory' | 'filesystem';

/** What the runtime says about a sandbox it was asked to run. */
export type RuntimeState = 'running' | 'paused' | 'stopped' | 'absent';

/** Host-side resource usage of a sandbox, read from its cgroups. */
export interface RuntimeUsage {
  memoryBytes: number;
  /** Times the kernel's OOM killer fired inside the sandbox's memory cgroup since it last started. */
  oomKills: number;
}

/**
 * What a runtime enforces on its sandboxes, beyond what users see in `SandboxCapabilities`:
 * both true for every real driver; the fake runtime (host processes, for tests without root)
 * enforces neither, and the conformance suite skips what needs them.
 */
export interface RuntimeConfinement {
  /** Own namespaces, a uid-shifted root, seccomp: a sandbox sees neither the host nor another sandbox. */
  isolated: boolean;
  /** Memory (OOM kills counted in `usage`), CPU, pids and disk limits hold. */
  limited: boolean;
}

/**
 * The runtime seam: a handful of OCI verbs. One implementation per OCI runtime (`crun`,
 * `runsc`) and a fake; lifecycle logic lives above it in `core`. Every implementation passes
 * the one suite in test/runtime/conformance.test.ts.
 *
 * - Idempotent where that makes sense (destroy of an absent sandbox succeeds, pausing a paused
 *   one is a no-op), so that recovery after a crash can simply replay a step.
 * - Errors are `RuntimeError`s with a `kind` (runtime-error.ts): a call on an absent sandbox is
 *   `not-found`, one that needs a capability the runtime lacks is `not-supported`.
 * - Every long call takes an `AbortSignal`; an aborted call rejects with the signal's reason
 *   and leaves no half-made sandbox behind (an aborted create removes what it made).
 */
export interface Runtime {
  readonly isolation: Isolation;
  /** What the runtime enforces (see `RuntimeConfinement`). */
  readonly confinement: RuntimeConfinement;
  /**
   * Prepares the writable layer and bundle, starts the sandbox and resolves once its agent
   * answers on the control socket. On failure or abort everything created so far is removed.
   * An id in use is a `conflict`.
   */
  create(launch: SandboxLaunch, signal?: AbortSignal): Promise<void>;
  /** Where the host reaches the sandbox's agent (a Unix socket path on the host). */
  agentSocket(id: string): string;
  state(id: string): Promise<RuntimeState>;
  /** Usage of a running or paused sandbox; zeros for a stopped one, `not-found` for an absent one. */
  usage(id: string): Promise<RuntimeUsage>;
  /**
   * Kills every process and frees every resource (mounts, cgroups, dirs, runtime state).
   * Takes no signal: a destroy cut short would leave exactly the half-freed sandbox it exists
   * to remove; each step is short and bounded instead.
   */
  destroy(id: string): Promise<void>;
  /** Ids of every sandbox this runtime still holds any resource for (for reconcile and leak checks). */
  list(): Promise<string[]>;

  /** What sandboxes of this runtime support beyond run and kill. */
  capabilities(): SandboxCapabilities;
  /** Freezes every process in place (memory stays in RAM). Pausing a paused sandbox is a no-op. */
  pause(id: string, signal?: AbortSignal): Promise<void>;
  /** Thaws a paused sandbox. Resuming a running sandbox is a no-op. */
  resume(id: string, signal?: AbortSignal): Promise<void>;
  /**
   * Stops the sandbox and frees its RAM, keeping its disk. `memory` writes a checkpoint
   * first (atomically: temp dir + rename), so `wake` resumes the same processes; only
   * runtimes with `hibernateWithMemory` accept it (else `not-supported`). A paused sandbox is
   * thawed first.
   */
  hibernate(id: string, mode: HibernateMode, signal?: AbortSignal): Promise<void>;
  /** Starts a hibernated sandbox again: from its checkpoint when it has one, else fresh. */
  wake(id: string, signal?: AbortSignal): Promise<HibernateMode>;
  /**
   * After a server restart, makes a sandbox that the runtime runs serve again, and drops what
   * only an interrupted step needed: an agent left quiesced (a checkpoint or a restore cut
   * short) gets its wake file, checkpoint images of the running sandbox are removed. Resolves
   * whether its agent answers.
   */
  reviveAgent(id: string, signal?: AbortSignal): Promise<boolean>;
  /** `complete`: a finished checkpoint exists; `partial`: only a temp one (a crash mid-hibernate). */
  checkpointOf(id: string): Promise<'complete' | 'partial' | 'none'>;
  /**
   * Starts `children` from one checkpoint of running sandbox `parentId`: same memory, each
   * with a copy of the parent's writable layer. The parent keeps running. Needs `fork`
   * (else `not-supported`); on failure no child is left.
   */
  fork(parentId: string, children: SandboxLaunch[], signal?: AbortSignal): Promise<void>;
  /** Copies the sandbox's writable layer (its changes over the template) to the new dir `dest`. */
  exportLayer(id: string, dest: string, signal?: AbortSignal): Promise<void>;
}
