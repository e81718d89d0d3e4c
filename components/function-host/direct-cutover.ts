// The new owner's function host cuts over by itself (in-network cutover with a direct hand-off): once
// the source's sealed last delta has activated the import (control-handlers.ts), it sends the CLAIM
// to the data plane from this node and, when the data plane accepts it, the cutover notice straight
// to the old owner's service port, which stops serving through its freeze and hands over (its writes
// until then came here as mirrors, state-mirror.ts). So no agent is on the path of a cutover. The
// target's agent still claims the same epoch (answered accepted again) before it moves its own state
// machine past the cutover.
// Neighbours: components/common/data-plane-claim.ts (the exchange), request-wire.ts (the notice).
import { systemClock } from '../common/clock.ts';
import { claimAtDataPlane, type ClaimAnswer } from '../common/data-plane-claim.ts';
import { DataPlaneLink } from '../common/data-plane-link.ts';
import type { Logger } from '../common/logger.ts';
import type { DirectCutover } from './function-host-api.ts';

export interface DirectClaim {
  readonly migrationId: string;
  readonly epoch: number;
  /** This node's address: the data plane knows a node by it, so the CLAIM must leave from it. */
  readonly from: string;
  /** Withdraws the CLAIM (stops resending it) when the import is dropped. */
  readonly signal: AbortSignal;
}

/** The CLAIMs of direct cutovers: one socket per node address and data plane, opened ahead (prepare). */
export class DirectCutoverClaims {
  readonly #logger: Logger;
  readonly #links = new Map<string, Promise<DataPlaneLink>>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Sockets opened or opening, one per node address and data plane. */
  get linkCount(): number {
    return this.#links.size;
  }

  /**
   * Opens the socket a later claim() of this plan will use, so that the freeze does not wait for the
   * bind; a failure here is left for claim() to meet again.
   */
  prepare(plan: DirectCutover, from: string): void {
    this.#linkTo(plan, from).catch(() => undefined);
  }

  /** CLAIMs `claim.epoch` for this node; rejects ERR_MIGRATION_TIMEOUT when the data plane stays silent. */
  async claim(plan: DirectCutover, claim: DirectClaim): Promise<ClaimAnswer> {
    const link = await this.#linkTo(plan, claim.from);
    return claimAtDataPlane(link, systemClock, {
      serviceId: plan.serviceId,
      epoch: claim.epoch,
      nodeNumber: plan.nodeNumber,
      timeoutMs: plan.claimTimeoutMs,
      retransmitMs: plan.retransmitMs,
      migrationId: claim.migrationId,
      signal: claim.signal,
    });
  }

  async close(): Promise<void> {
    const links = await Promise.allSettled(this.#links.values());
    this.#links.clear();
    await Promise.all(
      links.map((link) => (link.status === 'fulfilled' ? link.value.close() : Promise.resolve())),
    );
  }

  #linkTo(plan: DirectCutover, from: string): Promise<DataPlaneLink> {
    const key = `${from}>${plan.dataPlane.address}:${plan.dataPlane.port}`;
    let link = this.#links.get(key);
    if (link === undefined) {
      link = DataPlaneLink.open({
        dataPlane: plan.dataPlane,
        listen: { address: from, port: 0 },
        log: this.#logger,
      });
      // A failed open is not kept: the next direct cutover tries again.
      link.catch(() => this.#links.delete(key));
      this.#links.set(key, link);
    }
    return link;
  }
}
