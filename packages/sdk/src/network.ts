import { NetworkStatus, type UpdateNetworkRequest } from '@paddock/protocol';
import { type Connection, type ConnectionOptions, checked } from './connection.js';

/**
 * A sandbox's network: its egress policy, address and recently refused attempts; the policy
 * changes live, without a restart.
 *
 * @example
 * ```ts
 * const sbx = await Sandbox.create({ network: { egress: 'allowlist', allow: ['api.example.com'] } })
 * await sbx.network.update({ allow: ['api.example.com', '203.0.113.0/24:443'] })
 * const { recentDenied } = await sbx.network.get()
 * ```
 */
export class SandboxNetwork {
  constructor(
    private readonly conn: Connection,
    private readonly sandboxId: string,
  ) {}

  /** Policy, address, bandwidth cap, and the attempts the DNS resolver, proxy or firewall refused. */
  async get(opts: Pick<ConnectionOptions, 'signal' | 'requestTimeoutMs'> = {}): Promise<NetworkStatus> {
    return checked(
      (v) => NetworkStatus.safeParse(v),
      await this.conn.json('GET', `/v1/sandboxes/${this.sandboxId}/network`, opts),
    );
  }

  /**
   * Changes `egress` and/or `allow` now (`allow` replaces the whole list). A gVisor sandbox
   * created with egress `none` has no network to open: `ConflictError`.
   */
  async update(
    change: UpdateNetworkRequest,
    opts: Pick<ConnectionOptions, 'signal' | 'requestTimeoutMs'> = {},
  ): Promise<NetworkStatus> {
    return checked(
      (v) => NetworkStatus.safeParse(v),
      await this.conn.json('PUT', `/v1/sandboxes/${this.sandboxId}/network`, { ...opts, json: change }),
    );
  }
}
