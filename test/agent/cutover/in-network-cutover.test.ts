import assert from 'node:assert/strict';

import { DataPlaneLink } from '../../../components/common/data-plane-link.ts';
import { InNetworkCutover } from '../../../agent/cutover/in-network-cutover.ts';
import type { OwnershipChange } from '../../../agent/cutover/cutover-method.ts';
import type { EdgeShiftError } from '../../../components/common/errors.ts';
import { createLogger } from '../../../components/common/logger.ts';
import { PacketType } from '../../../p4/protocol/edgeshift-protocol.ts';
import { FakeDataPlane } from '../support/fake-data-plane.ts';
import { ManualClock } from '../support/manual-clock.ts';
import { until } from '../support/until.ts';

const CHANGE: OwnershipChange = {
  migrationId: 'm-1',
  service: 'sensor-stats',
  serviceId: 7,
  epoch: 2,
  newOwner: { address: '127.0.0.2', port: 7107 },
  oldOwner: { address: '127.0.0.1', port: 7107 },
};

describe('agent/cutover/in-network-cutover', () => {
  let dataPlane: FakeDataPlane;
  let link: DataPlaneLink;
  let clock: ManualClock;
  let cutover: InNetworkCutover;

  beforeEach(async () => {
    dataPlane = await FakeDataPlane.start();
    dataPlane.setOwner(7, { nodeId: 1, epoch: 1 });
    link = await DataPlaneLink.open({
      dataPlane: { address: '127.0.0.1', port: dataPlane.port },
      listen: { address: '127.0.0.1', port: 0 },
      log: createLogger('test'),
    });
    clock = new ManualClock();
    cutover = new InNetworkCutover({ link, nodeNumber: 2, clock, retransmitMs: 200 });
  });

  afterEach(async () => {
    await link.close();
    await dataPlane.close();
  });

  it('sends CLAIM(service, epoch) and takes ownership on CLAIM_ACCEPTED', async () => {
    await cutover.takeOwnership(CHANGE, 5_000);
    assert.deepEqual(
      dataPlane.received,
      [
        {
          type: PacketType.CLAIM,
          nodeId: 2,
          serviceId: 7,
          sequence: 1,
          epoch: 2,
          cpuLoadBp: 0,
          memLoadBp: 0,
          inflightRequests: 0,
          targetNodeId: 2,
        },
      ],
      'exactly one CLAIM, from node 2, for service 7 at epoch 2',
    );
    assert.deepEqual(dataPlane.ownerOf(7), { nodeId: 2, epoch: 2 }, 'the data plane switched the owner');
    assert.equal(clock.pendingTimers, 0, 'no timer is left behind');
  });

  it('is fenced by CLAIM_STALE when a newer owner is in force', async () => {
    dataPlane.setOwner(7, { nodeId: 3, epoch: 5 });
    await assert.rejects(
      cutover.takeOwnership(CHANGE, 5_000),
      (err: EdgeShiftError) =>
        err.code === 'ERR_MIGRATION_STALE_EPOCH' && /node 3 owns it at epoch 5/.test(err.message),
    );
    assert.deepEqual(dataPlane.ownerOf(7), { nodeId: 3, epoch: 5 }, 'the owner in force is unchanged');
  });

  it('ignores a replayed CLAIM_ACCEPTED of an older epoch and times out without an answer', async () => {
    dataPlane.isSilent = true;
    const pending = cutover.takeOwnership(CHANGE, 1_000);
    let answersSeen = 0;
    link.subscribe(() => (answersSeen += 1));
    await until(() => dataPlane.received.length === 1, 'the CLAIM is sent');
    const replayed = {
      ...dataPlane.received[0]!,
      type: PacketType.CLAIM_ACCEPTED,
      epoch: 1,
      targetNodeId: 2,
    } as const;
    await dataPlane.sendTo(link.localPort, replayed);
    await dataPlane.sendTo(link.localPort, { ...replayed, serviceId: 8, epoch: 2 }); // another service
    await until(() => answersSeen === 2, 'both stray answers reached the node');
    clock.advance(1_000);
    await assert.rejects(pending, (err: EdgeShiftError) => err.code === 'ERR_MIGRATION_TIMEOUT');
    await until(() => dataPlane.received.length === 5, 'the CLAIM was resent every 200 ms until the timeout');
  });

  it('resends the CLAIM when unanswered and accepts the answer to a resend', async () => {
    dataPlane.isSilent = true;
    const pending = cutover.takeOwnership(CHANGE, 5_000);
    await until(() => dataPlane.received.length === 1, 'the first CLAIM is sent');
    dataPlane.isSilent = false;
    clock.advance(200);
    await pending;
    assert.deepEqual(
      dataPlane.received.map((claim) => claim.sequence),
      [1, 2],
      'the resend carries the next sequence number',
    );
  });

  it('takes a CLAIM_STALE naming this node at this epoch as a yes (answer to a resend after acceptance)', async () => {
    dataPlane.setOwner(7, { nodeId: 2, epoch: 2 });
    await cutover.takeOwnership(CHANGE, 5_000);
    assert.deepEqual(dataPlane.ownerOf(7), { nodeId: 2, epoch: 2 }, 'node 2 owns the service at epoch 2');
  });

  describe('a source contesting the epoch', () => {
    let source: InNetworkCutover;
    beforeEach(() => {
      source = new InNetworkCutover({ link, nodeNumber: 1, clock, retransmitMs: 200 });
    });

    it('holds it when its CLAIM wins, and leaves it to the peer when the peer holds that very epoch', async () => {
      assert.equal(await source.contestOwnership(CHANGE, 5_000), 'ours');
      dataPlane.setOwner(7, { nodeId: 2, epoch: 2 });
      assert.equal(await source.contestOwnership(CHANGE, 5_000), 'theirs');
    });

    it("does not take a third node's newer epoch for the peer's", async () => {
      dataPlane.setOwner(7, { nodeId: 3, epoch: 5 });
      assert.equal(await source.contestOwnership(CHANGE, 5_000), 'unknown');
    });
  });
});
