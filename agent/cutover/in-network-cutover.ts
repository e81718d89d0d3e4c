// Cutover option 2 of the design, in the network: the target sends CLAIM(service, epoch) to the data
// plane and waits for CLAIM_ACCEPTED; CLAIM_STALE means a newer owner is in force (fenced: abort).
// A source that cannot learn whether the target's CLAIM went through claims the same epoch itself:
// the data plane accepts one of the two, so both learn who owns the service.
// The CLAIM is resent until answered or timed out, since UDP may lose it or its answer.
// Invariant: ownership is taken only on an answer for this service at exactly this epoch.
import { EdgeShiftError, hasErrorCode } from '../../components/common/errors.ts';
import type { EdgeShiftHeader } from '../../p4/protocol/edgeshift-header.ts';
import { PacketType } from '../../p4/protocol/edgeshift-protocol.ts';
import type { Clock } from '../clock.ts';
import type { ContestOutcome, CutoverMethod, OwnerInForce, OwnershipChange } from './cutover-method.ts';
import type { DataPlaneLink } from './data-plane-link.ts';

export interface InNetworkCutoverOptions {
  readonly link: DataPlaneLink;
  /** This node's id in the data plane's tables (1..NODE_COUNT-1). */
  readonly nodeNumber: number;
  readonly clock: Clock;
  /** Resend the CLAIM this often until answered. */
  readonly retransmitMs: number;
}

type ClaimAnswer = 'accepted' | { readonly staleOwner: number; readonly staleEpoch: number };

/** Reads an answer to our CLAIM out of a header, or undefined when the header is about something else. */
function answerTo(
  header: EdgeShiftHeader,
  serviceId: number,
  epoch: number,
  nodeNumber: number,
): ClaimAnswer | undefined {
  if (header.serviceId !== serviceId) return undefined;
  if (header.type === PacketType.CLAIM_ACCEPTED && header.epoch === epoch) return 'accepted';
  if (header.type !== PacketType.CLAIM_STALE) return undefined;
  // Our own CLAIM resent after it was accepted comes back stale, naming us at our epoch: that is a yes.
  if (header.targetNodeId === nodeNumber && header.epoch === epoch) return 'accepted';
  return { staleOwner: header.targetNodeId, staleEpoch: header.epoch };
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

  /** Sends CLAIM(service, epoch) until the data plane answers it; rejects after `timeoutMs`. */
  private claim(
    serviceId: number,
    epoch: number,
    timeoutMs: number,
    migrationId: string,
  ): Promise<ClaimAnswer> {
    const { link, clock, nodeNumber, retransmitMs } = this.options;
    return new Promise<ClaimAnswer>((resolve, reject) => {
      const sendClaim = (): void => {
        link
          .send({
            type: PacketType.CLAIM,
            nodeId: nodeNumber,
            serviceId,
            sequence: link.nextSequence(),
            epoch,
            cpuLoadBp: 0,
            memLoadBp: 0,
            inflightRequests: 0,
            targetNodeId: nodeNumber,
          })
          .catch(() => undefined); // a lost send is a lost datagram: the retransmit covers it
      };
      const finish = (settle: () => void): void => {
        unsubscribe();
        clock.clearTimer(deadline);
        clock.clearTimer(retransmit);
        settle();
      };
      const unsubscribe = link.subscribe((header) => {
        const answer = answerTo(header, serviceId, epoch, nodeNumber);
        if (answer !== undefined) finish(() => resolve(answer));
      });
      const deadline = clock.setTimer(() => {
        const error = new EdgeShiftError(
          'ERR_MIGRATION_TIMEOUT',
          `no answer to CLAIM of service ${serviceId} within ${timeoutMs} ms`,
          { context: { step: 'claim', migrationId, timeoutMs } },
        );
        finish(() => reject(error));
      }, timeoutMs);
      let retransmit = clock.setTimer(function again() {
        sendClaim();
        retransmit = clock.setTimer(again, retransmitMs);
      }, retransmitMs);
      sendClaim();
    });
  }

  followOwnership(): Promise<void> {
    return Promise.resolve(); // the data plane already steers every node's traffic
  }

  /** The data plane is the arbiter: a CLAIM of the same epoch from this node either wins or is stale. */
  async contestOwnership(change: OwnershipChange, timeoutMs: number): Promise<ContestOutcome> {
    try {
      await this.takeOwnership(change, timeoutMs);
      return 'ours';
    } catch (err) {
      return hasErrorCode(err, 'ERR_MIGRATION_STALE_EPOCH') ? 'theirs' : 'unknown';
    }
  }
}
