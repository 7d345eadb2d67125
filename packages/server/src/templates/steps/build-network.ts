import { PaddockError } from '@paddock/protocol';
import { newSandboxId } from '../../core/ids.js';
import type { SandboxNetworks } from '../../core/network-plan.js';

/** A network namespace a build step runs in, with the resolver of its own egress policy. */
export interface BuildNetwork {
  netnsPath: string;
  resolvConf: string;
  release(): Promise<void>;
}

/** Gives a `RUN --network` step a network for its duration. */
export type BuildNetworks = (signal: AbortSignal) => Promise<BuildNetwork>;

/**
 * Networks for build steps made the way sandbox networks are (own netns and veth, the egress
 * firewall and resolver, egress `open`), never the host's: a step reaches what a sandbox with
 * open egress reaches, and nothing on the host. The network goes when the step ends; one a
 * crash leaves is removed at the next start like any network without a live sandbox.
 */
export function sandboxBuildNetworks(networks: () => SandboxNetworks | undefined): BuildNetworks {
  return async (signal) => {
    const service = networks();
    if (service === undefined) {
      throw new PaddockError('INVALID_ARGUMENT', 'RUN --network: this server runs without sandbox networks', {
        field: 'network',
      });
    }
    const id = newSandboxId();
    try {
      const attachment = await service.up(id, 'container', service.plan({ egress: 'open' }, 'container'), signal);
      if (attachment === undefined) throw new Error('the build network came up without a namespace');
      return { netnsPath: attachment.netnsPath, resolvConf: attachment.resolvConf, release: () => service.down(id) };
    } catch (err) {
      await service.down(id).catch(() => {});
      throw err;
    }
  };
}
