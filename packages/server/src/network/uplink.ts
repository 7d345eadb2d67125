import { writeFile } from 'node:fs/promises';
import type { Logger } from '../core/logger.js';
import { hostCommand } from '../runtime/host-command.js';

/**
 * Sets `forwarding` on the uplink interface: replies to forwarded sandbox traffic arrive
 * there (see sandbox-interface.ts). Done when the first sandbox with egress comes up, not at
 * start, so a server whose sandboxes all run with egress `none` never changes a host
 * interface; and only on that interface (the global `ip_forward` is never touched).
 */
export class UplinkForwarding {
  private done = false;

  /** `uplink`: an interface name, `auto` (the default route's) or `none`. */
  constructor(
    private readonly uplink: string,
    private readonly logger: Logger,
  ) {}

  async enable(): Promise<void> {
    if (this.done) return;
    this.done = true;
    let uplink = this.uplink;
    if (uplink === 'none') return;
    if (uplink === 'auto') {
      const routes = JSON.parse(await hostCommand('ip', ['-j', '-4', 'route', 'show', 'default'])) as {
        dev?: string;
      }[];
      const dev = routes[0]?.dev;
      if (!dev) {
        this.logger.warn(
          { uplink },
          'no default route: sandboxes get no egress beyond the host (PADDOCK_EGRESS_UPLINK=auto)',
        );
        return;
      }
      uplink = dev;
    }
    await writeFile(`/proc/sys/net/ipv4/conf/${uplink}/forwarding`, '1');
  }
}
