// The one interface behind both cutover options of the design (in-network CLAIM to the data plane,
// or reconfiguration of the upstream route over Greengrass IPC). The target agent calls
// takeOwnership when the source asks it to cut over; the source agent calls followOwnership after.
// Invariant: takeOwnership either makes the data path send the service to the new owner, or throws;
// a refusal because a newer owner is in force throws ERR_MIGRATION_STALE_EPOCH (the claimant is fenced).
import type { UdpAddress } from '../../components/function-host/function-host-api.ts';

export type CutoverKind = 'in-network' | 'reconfiguration';

export const CUTOVER_KINDS: readonly CutoverKind[] = ['in-network', 'reconfiguration'];

export interface OwnershipChange {
  readonly migrationId: string;
  readonly service: string;
  /** The service's id in the data plane's tables (1..SERVICE_COUNT-1). */
  readonly serviceId: number;
  /** The epoch the new owner holds the service at. */
  readonly epoch: number;
  /** Where the new owner's function host takes the service's requests. */
  readonly newOwner: UdpAddress;
  readonly oldOwner: UdpAddress;
  /** The move's direct hand-off key, when it has one: with it the two function hosts settle a contest. */
  readonly handOffKey?: string;
}

/** Who holds the new epoch after a contest: this node, the peer, or nobody can tell (no arbiter). */
export type ContestOutcome = 'ours' | 'theirs' | 'unknown';

export interface OwnerInForce {
  readonly isThisNode: boolean;
  readonly epoch: number;
}

export interface CutoverMethod {
  readonly kind: CutoverKind;
  /** On the target: steer the service's requests here; resolves once the data path has switched. */
  takeOwnership(change: OwnershipChange, timeoutMs: number): Promise<void>;
  /** On the source, after the target took ownership: bring its own view of the route in line. */
  followOwnership(change: OwnershipChange, timeoutMs: number): Promise<void>;
  /**
   * On the source, when the target took ownership or not and cannot be asked: claim `change.epoch`
   * for this node where an arbiter decides, so exactly one of the two holds it from now on.
   */
  contestOwnership(change: OwnershipChange, timeoutMs: number): Promise<ContestOutcome>;
  /** Who owns the service where an arbiter keeps it, or undefined when nothing on this node can tell. */
  ownerInForce(serviceId: number, timeoutMs: number): Promise<OwnerInForce | undefined>;
}

export function isCutoverKind(value: string): value is CutoverKind {
  return (CUTOVER_KINDS as readonly string[]).includes(value);
}
