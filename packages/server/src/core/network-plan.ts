import type { EgressMode, Isolation, NetworkRequest, UpdateNetworkRequest } from '@paddock/protocol';
import type { NetworkAttachment } from './seams/runtime.js';
import type { SecretRule } from './seams/store.js';

/** A sandbox's network policy with the server's defaults applied. */
export interface NetworkPlan {
  egress: EgressMode;
  allow: string[];
  /** Mbit/s per direction, 0 = no cap. */
  bandwidthMbit: number;
  /** The sandbox's secrets, for the egress proxy (filled by the create path; never stored by the network). */
  secrets?: SecretRule[];
}

/**
 * The sandboxes' networks as the lifecycle sees them (implemented in `network/`): made before
 * the runtime starts a sandbox, re-applied when a pooled one is claimed, removed after it is
 * destroyed.
 */
export interface SandboxNetworks {
  /** Applies defaults and checks the combination (e.g. what gVisor supports); throws typed errors. */
  plan(request: NetworkRequest | undefined, isolation: Isolation): NetworkPlan;
  /** Whether a pooled spare (made with egress `none`) can serve this plan. */
  poolable(plan: NetworkPlan, isolation: Isolation): boolean;
  /** Brings the network up; undefined when the sandbox runs without one (gVisor `none`). */
  up(
    sandboxId: string,
    isolation: Isolation,
    plan: NetworkPlan,
    signal?: AbortSignal,
  ): Promise<NetworkAttachment | undefined>;
  /** Gives a running sandbox's network a new plan (a claimed spare). */
  apply(sandboxId: string, plan: NetworkPlan, signal?: AbortSignal): Promise<void>;
  /** A live policy change requested through the API. */
  update(sandboxId: string, change: UpdateNetworkRequest, signal?: AbortSignal): Promise<void>;
  /** True for a gVisor sandbox on a host-made network (runsc `--network=host`): no checkpoints. */
  usesHostStack(sandboxId: string, isolation: Isolation): boolean;
  /** Removes every trace of the sandbox's network; a no-op when it has none. */
  down(sandboxId: string): Promise<void>;
}
