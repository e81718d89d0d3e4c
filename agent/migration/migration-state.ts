// The migration state machine shared by both sides of a move: one enum of states, one table of
// allowed edges, and MigrationRun.transition(from[], to), which refuses anything else and logs
// `A -> B`. Used by migration/source-migration.ts and migration/target-migrations.ts.
// Invariant: CUT_OVER is the point of no return: from there on, no edge leads to ABORTING. The one
// edge out of ABORTING other than to ABORTED goes forward, to CUT_OVER: a target whose function host
// refuses to drop a state it already claimed at the data plane by itself has cut over, and so has the
// source of a move whose target answers its Abort with 'kept'.
import { EdgeShiftError } from '../../components/common/errors.ts';
import type { Logger } from '../../components/common/logger.ts';

export enum MigrationState {
  /** Source asks the target to reserve the service; target holds the reservation. */
  PREPARING = 'PREPARING',
  TRANSFERRING_SNAPSHOT = 'TRANSFERRING_SNAPSHOT',
  /** Pre-copy rounds while the source keeps serving. */
  COPYING_DELTAS = 'COPYING_DELTAS',
  /** Source stopped processing and buffers arrivals; it took the last delta. */
  FROZEN = 'FROZEN',
  ACTIVATING = 'ACTIVATING',
  /** Target holds the whole state at the new epoch and waits for the cutover. */
  ACTIVATED = 'ACTIVATED',
  /** Target takes ownership; on the source, the whole TakeOver call (last delta, activation, cutover). */
  CUTTING_OVER = 'CUTTING_OVER',
  /** The data path sends the service's requests to the target. */
  CUT_OVER = 'CUT_OVER',
  /** Source forwards what it buffered (and late arrivals) to the new owner. */
  HANDING_OVER = 'HANDING_OVER',
  COMMITTED = 'COMMITTED',
  ABORTING = 'ABORTING',
  ABORTED = 'ABORTED',
}

export type MigrationRole = 'source' | 'target';

const S = MigrationState;

/** Every edge the machine may take; `transition` refuses all others, whatever the caller lists. */
export const ALLOWED_TRANSITIONS: ReadonlyMap<MigrationState, readonly MigrationState[]> = new Map([
  [S.PREPARING, [S.TRANSFERRING_SNAPSHOT, S.COPYING_DELTAS, S.FROZEN, S.ACTIVATING, S.ABORTING]],
  [S.TRANSFERRING_SNAPSHOT, [S.COPYING_DELTAS, S.ABORTING]],
  [S.COPYING_DELTAS, [S.FROZEN, S.ACTIVATING, S.ABORTING]],
  [S.FROZEN, [S.CUTTING_OVER, S.ABORTING]],
  [S.ACTIVATING, [S.ACTIVATED, S.ABORTING]],
  [S.ACTIVATED, [S.CUTTING_OVER, S.ABORTING]],
  [S.CUTTING_OVER, [S.CUT_OVER, S.ABORTING]],
  [S.CUT_OVER, [S.HANDING_OVER, S.COMMITTED]],
  [S.HANDING_OVER, [S.COMMITTED]],
  [S.COMMITTED, []],
  [S.ABORTING, [S.ABORTED, S.CUT_OVER]],
  [S.ABORTED, []],
]);

const FINAL_STATES: ReadonlySet<MigrationState> = new Set([S.COMMITTED, S.ABORTED]);
const PAST_CUTOVER: ReadonlySet<MigrationState> = new Set([S.CUT_OVER, S.HANDING_OVER, S.COMMITTED]);

export interface MigrationIdentity {
  readonly migrationId: string;
  readonly service: string;
  readonly role: MigrationRole;
  /** The epoch the target owns the service at after this move. */
  readonly epoch: number;
  readonly peerNodeId: string;
}

export interface TransitionRecord {
  readonly from: MigrationState;
  readonly to: MigrationState;
  readonly atMs: number;
}

export class MigrationRun {
  readonly identity: MigrationIdentity;
  private current: MigrationState = S.PREPARING;
  private readonly history: TransitionRecord[] = [];
  private readonly log: Logger;
  private readonly nowMs: () => number;

  constructor(identity: MigrationIdentity, log: Logger, nowMs: () => number) {
    this.identity = identity;
    this.log = log;
    this.nowMs = nowMs;
  }

  get state(): MigrationState {
    return this.current;
  }

  get transitions(): readonly TransitionRecord[] {
    return this.history;
  }

  get isFinal(): boolean {
    return FINAL_STATES.has(this.current);
  }

  /** True once the data path points at the target: aborting is no longer possible, only completing. */
  get isPastCutover(): boolean {
    return PAST_CUTOVER.has(this.current);
  }

  isIn(...states: readonly MigrationState[]): boolean {
    return states.includes(this.current);
  }

  /** Moves to `to` if the current state is one of `from` and the edge exists; throws otherwise. */
  transition(from: readonly MigrationState[], to: MigrationState): void {
    const isAllowedEdge = ALLOWED_TRANSITIONS.get(this.current)?.includes(to) ?? false;
    if (!from.includes(this.current) || !isAllowedEdge) {
      throw new EdgeShiftError(
        'ERR_MIGRATION_ILLEGAL_TRANSITION',
        `migration ${this.identity.migrationId} (${this.identity.role}) cannot go ${this.current} -> ${to}; expected to be in ${from.join('|')}`,
        {
          context: {
            migrationId: this.identity.migrationId,
            from: this.current,
            to,
            service: this.identity.service,
          },
        },
      );
    }
    const record = { from: this.current, to, atMs: this.nowMs() };
    this.history.push(record);
    this.current = to;
    this.log.info(`${record.from} -> ${record.to}`, {
      migrationId: this.identity.migrationId,
      service: this.identity.service,
      role: this.identity.role,
      epoch: this.identity.epoch,
    });
  }
}
