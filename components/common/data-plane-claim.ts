// The CLAIM exchange with the data plane: CLAIM(service, epoch) from this node, resent until the data
// plane answers it for this service at this epoch, or the time is up. Shared by the peer agent's
// in-network cutover (agent/cutover/in-network-cutover.ts) and the function host's direct cutover
// (components/function-host/direct-cutover.ts), so both read the answers the same way.
// Invariant: 'accepted' only on an answer for this service at exactly this epoch.
import { EdgeShiftError } from './errors.ts';
import type { Clock } from './clock.ts';
import type { DataPlaneLink } from './data-plane-link.ts';
import type { EdgeShiftHeader } from '../../p4/protocol/edgeshift-header.ts';
import { PacketType } from '../../p4/protocol/edgeshift-protocol.ts';

export interface ClaimRequest {
  readonly serviceId: number;
  readonly epoch: number;
  /** This node's id in the data plane's tables. */
  readonly nodeNumber: number;
  readonly timeoutMs: number;
  /** Resend the CLAIM this often until answered: UDP may lose it or its answer. */
  readonly retransmitMs: number;
  /** Named in the timeout error. */
  readonly migrationId: string;
  /** Stops the resending: rejects ERR_MIGRATION_CLAIM_WITHDRAWN (a CLAIM already sent may still win). */
  readonly signal?: AbortSignal;
}

/** Accepted, or stale: another node owns the service at an epoch at least as new. */
export type ClaimAnswer = 'accepted' | { readonly staleOwner: number; readonly staleEpoch: number };

/** A CLAIM header: `nodeId` asks the data plane for `serviceId` at `epoch`. */
export function claimHeader(fields: {
  nodeId: number;
  serviceId: number;
  epoch: number;
  sequence: number;
  targetNodeId: number;
}): EdgeShiftHeader {
  return { type: PacketType.CLAIM, cpuLoadBp: 0, memLoadBp: 0, inflightRequests: 0, ...fields };
}

/** Reads an answer to our CLAIM out of a header, or undefined when the header is about something else. */
function answerTo(header: EdgeShiftHeader, request: ClaimRequest): ClaimAnswer | undefined {
  const { serviceId, epoch, nodeNumber } = request;
  if (header.serviceId !== serviceId) return undefined;
  if (header.type === PacketType.CLAIM_ACCEPTED && header.epoch === epoch) return 'accepted';
  if (header.type !== PacketType.CLAIM_STALE) return undefined;
  // Our own CLAIM resent after it was accepted comes back stale, naming us at our epoch: that is a yes.
  if (header.targetNodeId === nodeNumber && header.epoch === epoch) return 'accepted';
  return { staleOwner: header.targetNodeId, staleEpoch: header.epoch };
}

/**
 * Sends CLAIM(service, epoch) until the data plane answers it; rejects ERR_MIGRATION_TIMEOUT after
 * timeoutMs, or ERR_MIGRATION_CLAIM_WITHDRAWN once `signal` aborts.
 */
export function claimAtDataPlane(
  link: DataPlaneLink,
  clock: Pick<Clock, 'setTimer' | 'clearTimer'>,
  request: ClaimRequest,
): Promise<ClaimAnswer> {
  const { serviceId, epoch, nodeNumber, timeoutMs, retransmitMs, migrationId, signal } = request;
  return new Promise<ClaimAnswer>((resolve, reject) => {
    const withdraw = (): void => {
      const error = new EdgeShiftError(
        'ERR_MIGRATION_CLAIM_WITHDRAWN',
        `CLAIM of service ${serviceId} at epoch ${epoch} withdrawn before an answer`,
        { context: { step: 'claim', migrationId } },
      );
      finish(() => reject(error));
    };
    const sendClaim = (): void => {
      const sequence = link.nextSequence();
      link
        .send(claimHeader({ nodeId: nodeNumber, serviceId, epoch, sequence, targetNodeId: nodeNumber }))
        .catch(() => undefined); // a lost send is a lost datagram: the retransmit covers it
    };
    const finish = (settle: () => void): void => {
      signal?.removeEventListener('abort', withdraw);
      unsubscribe();
      clock.clearTimer(deadline);
      clock.clearTimer(retransmit);
      settle();
    };
    const unsubscribe = link.subscribe((header) => {
      const answer = answerTo(header, request);
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
    if (signal?.aborted === true) {
      withdraw();
      return;
    }
    signal?.addEventListener('abort', withdraw, { once: true });
    sendClaim();
  });
}
