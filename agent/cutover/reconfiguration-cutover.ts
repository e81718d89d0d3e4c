// Cutover option 1 of the design, by reconfiguration: the upstream route of the service is changed
// through the local function host's setRoute op, which persists it with Greengrass IPC
// UpdateConfiguration and applies it on its SubscribeToConfigurationUpdate event. The target sets its
// route first (takeOwnership), then the source (followOwnership), both to the new owner at the new epoch.
import type { FunctionHostControl } from '../../components/function-host/function-host-api.ts';
import type { ContestOutcome, CutoverMethod, OwnerInForce, OwnershipChange } from './cutover-method.ts';

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

  /** Routes live in each node's function host: nothing on this node can tell what the target did. */
  contestOwnership(): Promise<ContestOutcome> {
    return Promise.resolve('unknown');
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
