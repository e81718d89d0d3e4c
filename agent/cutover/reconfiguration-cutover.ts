// Cutover option 1 of the design, by reconfiguration: the upstream route of the service is changed
// through the local function host's setRoute op, which persists it with Greengrass IPC
// UpdateConfiguration and applies it on its SubscribeToConfigurationUpdate event. The target sets its
// route first (takeOwnership), then the source (followOwnership), both to the new owner at the new epoch.
// Routes live in each node, so no arbiter outside the two nodes decides an unclear take-over; the two
// function hosts do (contestImport): the target's either had activated the import, or never will.
import type { FunctionHostControl } from '../../components/function-host/function-host-api.ts';
import type { ContestOutcome, CutoverMethod, OwnerInForce, OwnershipChange } from './cutover-method.ts';

/** The host call outlasts the contest's own wait, so that a late answer is not cut off. */
const CONTEST_MARGIN_MS = 1000;

export class ReconfigurationCutover implements CutoverMethod {
  readonly kind = 'reconfiguration' as const;
  private readonly host: FunctionHostControl;

  constructor(host: FunctionHostControl) {
    this.host = host;
  }

  async takeOwnership(change: OwnershipChange, timeoutMs: number): Promise<void> {
    await this.setRoute(change, timeoutMs);
  }

  async followOwnership(change: OwnershipChange, timeoutMs: number): Promise<void> {
    await this.setRoute(change, timeoutMs);
  }

  /**
   * Asks the target's function host, sealed under the move's hand-off key, whether it activated the
   * import: 'theirs' when it had, 'ours' when it had not (and now never will), 'unknown' without a key
   * or an answer.
   */
  async contestOwnership(change: OwnershipChange, timeoutMs: number): Promise<ContestOutcome> {
    if (change.handOffKey === undefined) return 'unknown';
    const { outcome } = await this.host.call(
      {
        op: 'contestImport',
        service: change.service,
        migrationId: change.migrationId,
        epoch: change.epoch,
        newOwner: change.newOwner,
        handOffKey: change.handOffKey,
        waitMs: timeoutMs,
      },
      timeoutMs + CONTEST_MARGIN_MS,
    );
    if (outcome === 'activated') return 'theirs';
    return outcome === 'fenced' ? 'ours' : 'unknown';
  }

  ownerInForce(): Promise<OwnerInForce | undefined> {
    return Promise.resolve(undefined);
  }

  private async setRoute(change: OwnershipChange, timeoutMs: number): Promise<void> {
    await this.host.call(
      { op: 'setRoute', service: change.service, owner: change.newOwner, epoch: change.epoch },
      timeoutMs,
    );
  }
}
