// Cutover option 2 of the design, in the network: the target sends CLAIM(service, epoch) to the data
// plane and waits for CLAIM_ACCEPTED; CLAIM_STALE means a newer owner is in force (fenced: abort).
// A source that cannot learn whether the target's CLAIM went through claims the same epoch itself:
// the data plane accepts one of the two, so both learn who owns the service.
// The exchange itself (resent until answered) is components/common/data-plane-claim.ts.
// Invariant: ownership is taken only on an answer for this service at exactly this epoch.
import type { Clock } from '../../components/common/clock.ts';
import { claimAtDataPlane, type ClaimAnswer } from '../../components/common/data-plane-claim.ts';
import type { DataPlaneLink } from '../../components/common/data-plane-link.ts';
import { EdgeShiftError } from '../../components/common/errors.ts';
import type { ContestOutcome, CutoverMethod, OwnerInForce, OwnershipChange } from './cutover-method.ts';

export interface InNetworkCutoverOptions {
  readonly link: DataPlaneLink;
  /** This node's id in the data plane's tables (1..NODE_COUNT-1). */
  readonly nodeNumber: number;
  readonly clock: Clock;
  /** Resend the CLAIM this often until answered. */
  readonly retransmitMs: number;
}

export class InNetworkCutover implements CutoverMethod {
  readonly kind = 'in-network' as const;
  private readonly options: InNetworkCutoverOptions;

  constructor(options: InNetworkCutoverOptions) {
    this.options = options;
  }

  async takeOwnership(change: OwnershipChange, timeoutMs: number): Promise<void> {
    const answer = await this.claim(change.serviceId, change.epoch, timeoutMs, change.migrationId);
    if (answer === 'accepted') return;
    throw new EdgeShiftError(
      'ERR_MIGRATION_STALE_EPOCH',
      `CLAIM of service ${change.serviceId} at epoch ${change.epoch} is stale: node ${answer.staleOwner} owns it at epoch ${answer.staleEpoch}`,
      {
        context: { migrationId: change.migrationId, serviceId: change.serviceId, epoch: change.epoch },
      },
    );
  }

  /** A CLAIM at epoch 0 can never win: its CLAIM_STALE answer names the owner in force. */
  async ownerInForce(serviceId: number, timeoutMs: number): Promise<OwnerInForce> {
    const answer = await this.claim(serviceId, 0, timeoutMs, 'owner-probe');
    if (answer === 'accepted') return { isThisNode: true, epoch: 0 };
    return { isThisNode: answer.staleOwner === this.options.nodeNumber, epoch: answer.staleEpoch };
  }

  private claim(
    serviceId: number,
    epoch: number,
    timeoutMs: number,
    migrationId: string,
  ): Promise<ClaimAnswer> {
    const { link, clock, nodeNumber, retransmitMs } = this.options;
    return claimAtDataPlane(link, clock, {
      serviceId,
      epoch,
      nodeNumber,
      timeoutMs,
      retransmitMs,
      migrationId,
    });
  }

  followOwnership(): Promise<void> {
    return Promise.resolve(); // the data plane already steers every node's traffic
  }

  /**
   * The data plane is the arbiter: a CLAIM of the same epoch from this node either wins, or is stale
   * because the peer holds that very epoch (no other node claims it). Stale at a newer epoch, neither
   * holds it: a third owner's route fences this node, so the outcome is not the peer's.
   */
  async contestOwnership(change: OwnershipChange, timeoutMs: number): Promise<ContestOutcome> {
    const { serviceId, epoch, migrationId } = change;
    const answer = await this.claim(serviceId, epoch, timeoutMs, migrationId).catch(() => undefined);
    if (answer === undefined) return 'unknown';
    if (answer === 'accepted') return 'ours';
    return answer.staleEpoch === epoch ? 'theirs' : 'unknown';
  }
}
