import type { EgressProxy } from './egress-contract.js';

/** Stands in for the egress proxy where none is wired: listens nowhere, intercepts nothing. */
export class NoopEgressProxy implements EgressProxy {
  async attach(): Promise<void> {}
  async updatePorts(): Promise<void> {}
  async detach(): Promise<void> {}
  intercepts(): boolean {
    return false;
  }
}
