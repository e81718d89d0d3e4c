import assert from 'node:assert/strict';

import { MigrationState } from '../../../agent/migration/migration-state.ts';
import { PeerClient, type TakeOverCall } from '../../../agent/peer-client.ts';
import { EdgeShiftError } from '../../../components/common/errors.ts';
import type { MigrationResult } from '../../../agent/migration/source-migration.ts';
import { until } from '../support/until.ts';
import {
  STATEFUL,
  STATELESS,
  startTwoNodes,
  tally,
  TEST_SETTINGS,
  type TwoNodes,
} from '../support/two-node-harness.ts';

const MIB = 1024 * 1024;

/** Sends `count` requests over `keys` keys, `id` prefixed, to wherever the data path points. */
function sendBurst(
  nodes: TwoNodes,
  prefix: string,
  count: number,
  keys = 16,
  service: string = STATEFUL.name,
): string[] {
  const ids: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const id = `${prefix}-${index}`;
    nodes.send(service, id, `sensor-${index % keys}`);
    ids.push(id);
  }
  return ids;
}

function assertNoneLostOrDuplicated(nodes: TwoNodes, sent: readonly string[]): void {
  const { processed, duplicates } = tally([nodes.hostA, nodes.hostB]);
  assert.deepEqual(duplicates, [], 'no request may be processed twice');
  assert.deepEqual(
    sent.filter((id) => !processed.has(id)),
    [],
    'every request sent must be processed on one node',
  );
}

/** After its idle timeout, a target left alone has dropped the partial state. */
async function assertTargetDroppedAfterIdle(nodes: TwoNodes): Promise<void> {
  nodes.clock.advance(30_000);
  await until(() => nodes.hostB.calls.includes('dropState'), 'node-b drops its partial state');
  await until(() => nodes.hostB.role(STATEFUL.name) === 'standby', 'node-b is standby');
  assert.equal(nodes.hostB.stateSize(STATEFUL.name), 0, 'node-b holds no state for the service');
  assert.deepEqual((await nodes.agentB.status()).migrations, [], 'node-b has no migration left open');
}

/** `epoch` is 2 when node-a could not ask the target and took the new epoch at the data plane itself. */
function assertSourceStillServes(nodes: TwoNodes, sent: readonly string[], epoch = 1): void {
  assert.equal(nodes.hostA.role(STATEFUL.name), 'owner', 'node-a still owns the service');
  assert.equal(nodes.hostA.epoch(STATEFUL.name), epoch, `node-a owns it at epoch ${epoch}`);
  assert.equal(nodes.hostA.bufferedCount(STATEFUL.name), 0, 'node-a has nothing left in its buffer');
  assert.deepEqual(
    nodes.dataPlane.ownerOf(STATEFUL.serviceId),
    { nodeId: 1, epoch },
    'the data plane still sends to node-a',
  );
  assertNoneLostOrDuplicated(nodes, sent);
  assert.deepEqual(nodes.hostB.processed, [], 'node-b processed nothing');
}

function states(result: MigrationResult): string[] {
  return result.transitions.map((record) => record.to);
}

describe('agent/migration/source-migration', function () {
  this.timeout(60_000);
  let nodes: TwoNodes | undefined;

  afterEach(async () => {
    await nodes?.close();
    nodes = undefined;
  });

  describe('a committed move', () => {
    it('holds the snapshot stream to transferBytesPerSecond', async () => {
      nodes = await startTwoNodes({
        cutover: 'in-network',
        settings: { chunkBytes: 64 * 1024, transferBytesPerSecond: 64 * 1024 },
      });
      const { hostA, hostB, agentA, clock } = nodes;
      hostA.fill(STATEFUL.name, 16, 60 * 1024); // about 16 chunks of 64 KiB
      const imported = (): number => hostB.calls.filter((op) => op === 'importChunk').length;
      let result: MigrationResult | undefined;
      void agentA.migrate(STATEFUL.name, 'node-b').then((done) => (result = done));
      await until(() => imported() === 1, 'the first chunk goes at once');
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(imported(), 1, 'the second chunk waits for its second on the clock');
      clock.advance(1000);
      await until(() => imported() === 2, 'one more chunk after one more second');
      while (result === undefined) {
        clock.advance(1000);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.equal(result.outcome, 'committed', JSON.stringify(result.abortReason));
      assert.ok(result.transferMs >= (result.chunkCount - 1) * 1000, `paced: ${result.transferMs} ms`);
    });

    it('moves a multi-MiB stateful service in checksummed chunks while requests keep arriving (in-network)', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      const { hostA, hostB, agentA, dataPlane } = nodes;
      hostA.fill(STATEFUL.name, 1024, 4096); // 4 MiB
      const sent = sendBurst(nodes, 'before', 200);
      // Requests arriving during the snapshot, during the pre-copy and during the freeze.
      hostB.faults.importChunk = (request) => {
        if (request.op === 'importChunk' && request.index === 3)
          sent.push(...sendBurst(nodes!, 'snapshot', 50));
      };
      hostA.faults.nextDelta = () => {
        sent.push(...sendBurst(nodes!, `delta-${hostA.calls.length}`, 20));
      };
      hostA.faults.freeze = () => {
        hostA.faults.nextDelta = undefined;
      };
      hostB.faults.activate = () => {
        sent.push(...sendBurst(nodes!, 'frozen', 30));
      };
      const sourceChecksumBefore = hostA.checksum(STATEFUL.name);
      const result = await agentA.migrate(STATEFUL.name, 'node-b');
      sent.push(...sendBurst(nodes, 'after', 100));

      assert.equal(
        result.outcome,
        'committed',
        `migration must commit: ${JSON.stringify(result.abortReason)}`,
      );
      assert.ok(
        result.snapshotBytes > 4 * MIB,
        `snapshot of ${result.snapshotBytes} bytes must be over 4 MiB`,
      );
      assert.equal(
        result.chunkCount,
        Math.ceil(result.snapshotBytes / (256 * 1024)),
        'one chunk per 256 KiB',
      );
      assert.ok(
        result.deltaRounds >= 2,
        'the writes made during the snapshot take more than one pre-copy round',
      );
      assert.equal(result.bufferedRequests, 0, 'nothing was buffered yet when the freeze began');
      assert.equal(result.forwardedRequests, 30, 'the 30 requests that arrived while frozen are forwarded');
      assert.deepEqual(
        hostA.noticeHandOvers,
        [`${STATEFUL.name}@2`],
        "node-b's cutover notice ended node-a's freeze",
      );
      assert.deepEqual(
        hostB.handOffActivations,
        [`${STATEFUL.name}@2`],
        "node-b activated on node-a's direct hand-off, not on the relayed TakeOver",
      );
      assert.ok(
        result.freezeWindowMs >= 0 && result.cutoverMs >= 0,
        'freeze window and cutover time are recorded',
      );
      assert.deepEqual(
        states(result),
        [
          MigrationState.TRANSFERRING_SNAPSHOT,
          MigrationState.COPYING_DELTAS,
          MigrationState.FROZEN,
          MigrationState.CUTTING_OVER,
          MigrationState.CUT_OVER,
          MigrationState.HANDING_OVER,
          MigrationState.COMMITTED,
        ],
        'the source walks every state in order',
      );
      assert.deepEqual(
        dataPlane.ownerOf(STATEFUL.serviceId),
        { nodeId: 2, epoch: 2 },
        'node-b claimed the service at epoch 2',
      );
      assert.equal(hostB.role(STATEFUL.name), 'owner', 'node-b owns the service');
      assert.equal(hostB.epoch(STATEFUL.name), 2, 'node-b owns it at epoch 2');
      assert.equal(hostA.role(STATEFUL.name), 'forwarding', 'node-a forwards late arrivals');
      assert.equal(hostA.stateSize(STATEFUL.name), 0, 'node-a dropped its state after the commit');
      assert.notEqual(
        hostB.checksum(STATEFUL.name),
        sourceChecksumBefore,
        'requests during the move changed the state',
      );
      assertNoneLostOrDuplicated(nodes, sent);
      assert.ok(
        nodes.hostB.processed.includes('frozen-0'),
        'requests buffered in the freeze are processed on node-b',
      );
      const status = await nodes.agentB.status();
      assert.deepEqual(status.migrations, [], 'node-b has no migration left open');
    });

    /** A move whose target spends 20 ms on the clock on each of its first `slowRounds` delta imports. */
    async function moveWithSlowDeltaRounds(maxDeltaRounds: number, slowRounds: number): Promise<number> {
      nodes = await startTwoNodes({
        cutover: 'in-network',
        settings: { deltaThresholdBytes: 64 * 1024, quietDeltaRoundMs: 5, maxDeltaRounds },
      });
      const { hostA, hostB, agentA, clock } = nodes;
      hostA.fill(STATEFUL.name, 8, 1024);
      let slowLeft = slowRounds;
      hostB.faults.importDelta = () => {
        if (slowLeft > 0) clock.advance(20);
        slowLeft -= 1;
        return Promise.resolve();
      };
      const result = await agentA.migrate(STATEFUL.name, 'node-b');
      assert.equal(result.outcome, 'committed', JSON.stringify(result.abortReason));
      assert.equal(hostB.calls.filter((op) => op === 'importDelta').length, result.deltaRounds);
      return result.deltaRounds;
    }

    it('goes on with pre-copy while a small delta round is slow, and freezes after a quiet one', async () => {
      // Two slow rounds and a quiet one before the freeze (its last delta travels with TakeOver).
      assert.equal(await moveWithSlowDeltaRounds(5, 2), 3);
    });

    it('freezes after maxDeltaRounds however slow the rounds are', async () => {
      assert.equal(await moveWithSlowDeltaRounds(3, Infinity), 3);
    });

    it('moves a stateful service by reconfiguring the route on both nodes', async () => {
      nodes = await startTwoNodes({ cutover: 'reconfiguration' });
      const { hostA, hostB, agentA, dataPlane } = nodes;
      const sent = sendBurst(nodes, 'before', 300, 40);
      const expected = hostA.checksum(STATEFUL.name);
      const result = await agentA.migrate(STATEFUL.name);
      assert.equal(
        result.outcome,
        'committed',
        `migration must commit: ${JSON.stringify(result.abortReason)}`,
      );
      assert.equal(hostB.checksum(STATEFUL.name), expected, 'node-b holds exactly the state node-a had');
      const route = { owner: { address: hostB.endpoint.address, port: STATEFUL.port }, epoch: 2 };
      assert.deepEqual(hostB.routeOf(STATEFUL.name), route, 'node-b routes the service to itself at epoch 2');
      assert.deepEqual(hostA.routeOf(STATEFUL.name), route, 'node-a routes the service to node-b at epoch 2');
      assert.equal(dataPlane.received.length, 0, 'no CLAIM is sent with the reconfiguration option');
      sent.push(...sendBurst(nodes, 'after', 50, 40));
      assertNoneLostOrDuplicated(nodes, sent);
      assert.equal(
        hostB.processed.filter((id) => id.startsWith('after-')).length,
        50,
        'new requests go to node-b',
      );
    });

    it('moves a stateless service with the cutover alone, without state transfer', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      const { hostA, hostB, agentA } = nodes;
      const result = await agentA.migrate(STATELESS.name);
      assert.equal(
        result.outcome,
        'committed',
        `migration must commit: ${JSON.stringify(result.abortReason)}`,
      );
      assert.equal(result.snapshotBytes + result.deltaRounds, 0, 'no snapshot and no delta');
      assert.ok(
        !hostA.calls.includes('beginExport') && !hostB.calls.includes('importChunk'),
        'no export or import call',
      );
      assert.equal(hostB.role(STATELESS.name), 'owner', 'node-b owns the stateless service');
    });

    it('moves the service back (A -> B -> A) at increasing epochs', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      const sent = sendBurst(nodes, 'first', 100);
      const forth = await nodes.agentA.migrate(STATEFUL.name);
      sent.push(...sendBurst(nodes, 'second', 100));
      const back = await nodes.agentB.migrate(STATEFUL.name);
      sent.push(...sendBurst(nodes, 'third', 100));
      assert.deepEqual(
        [forth.outcome, back.outcome],
        ['committed', 'committed'],
        `both moves commit: ${JSON.stringify([forth.abortReason, back.abortReason])}`,
      );
      assert.deepEqual([forth.epoch, back.epoch], [2, 3], 'each move raises the epoch by one');
      assert.deepEqual(
        nodes.dataPlane.ownerOf(STATEFUL.serviceId),
        { nodeId: 1, epoch: 3 },
        'node-a owns it again',
      );
      assertNoneLostOrDuplicated(nodes, sent);
    });
  });

  describe('the TakeOver call', () => {
    it('is opened before the freeze, so that inside it only its one message travels', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      const current = nodes;
      const events: string[] = [];
      const openTakeOver = Object.getOwnPropertyDescriptor(PeerClient.prototype, 'openTakeOver')!;
      Object.defineProperty(PeerClient.prototype, 'openTakeOver', {
        ...openTakeOver,
        value(this: PeerClient, timeoutMs: number): TakeOverCall {
          events.push('openTakeOver');
          return (openTakeOver.value as PeerClient['openTakeOver']).call(this, timeoutMs);
        },
      });
      current.hostA.faults.freeze = () => {
        events.push('freeze');
      };
      try {
        const result = await current.agentA.migrate(STATEFUL.name);
        assert.equal(result.outcome, 'committed', JSON.stringify(result.abortReason));
      } finally {
        Object.defineProperty(PeerClient.prototype, 'openTakeOver', openTakeOver);
      }
      assert.deepEqual(events, ['openTakeOver', 'freeze']);
    });

    it('leaves the target untouched when the freeze fails, and the source serves on', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      const current = nodes;
      const sent = sendBurst(current, 'before', 30);
      current.hostA.faults.freeze = () => {
        throw new EdgeShiftError('ERR_FNHOST_WRONG_ROLE', 'freeze refused for this test');
      };
      const result = await current.agentA.migrate(STATEFUL.name);
      assert.equal(result.outcome, 'aborted');
      assert.equal(result.abortReason?.code, 'ERR_FNHOST_WRONG_ROLE');
      await until(() => !current.agentB.isBusy(STATEFUL.name), 'node-b drops the migration');
      assert.ok(!current.hostB.calls.includes('activate'), 'node-b never activated');
      assert.equal(current.hostB.role(STATEFUL.name), 'standby');
      // A freeze whose answer was lost may have handed the last delta over: the source claims the
      // move's epoch before it resumes, so that no CLAIM of the target's function host can win later.
      assertSourceStillServes(current, sent, 2);
    });
  });

  describe('aborts before the cutover leave the source serving', () => {
    it('aborts when the target dies during the snapshot, and the target drops its partial state', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      const current = nodes;
      current.hostA.fill(STATEFUL.name, 256, 4096);
      const sent = sendBurst(current, 'before', 50);
      current.hostA.faults.readExportChunk = (request) => {
        if (request.op === 'readExportChunk' && request.index === 2) {
          sent.push(...sendBurst(current, 'snapshot', 20));
          current.agentB.destroy();
        }
      };
      const result = await current.agentA.migrate(STATEFUL.name);
      assert.equal(result.outcome, 'aborted', 'the move must abort');
      assert.equal(result.abortReason?.code, 'ERR_PEER_UNREACHABLE', 'because the target is gone');
      assert.equal(
        result.transitions.at(-2)?.from,
        MigrationState.TRANSFERRING_SNAPSHOT,
        'it aborted in the snapshot',
      );
      assertSourceStillServes(current, sent);
      await assertTargetDroppedAfterIdle(current);
    });

    it('aborts when the target dies during a delta', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      const current = nodes;
      const sent = sendBurst(current, 'before', 100);
      current.hostA.faults.nextDelta = () => {
        sent.push(...sendBurst(current, 'delta', 10));
      };
      current.hostB.faults.importDelta = () => {
        current.agentB.destroy();
        throw new Error('node-b died');
      };
      const result = await current.agentA.migrate(STATEFUL.name);
      assert.equal(result.outcome, 'aborted', 'the move must abort');
      assert.equal(
        result.transitions.at(-2)?.from,
        MigrationState.COPYING_DELTAS,
        'it aborted in the pre-copy',
      );
      assert.ok(!current.hostA.calls.includes('freeze'), 'the source never froze');
      assert.ok(current.hostA.calls.includes('resume'), 'resume closes the open export on the source');
      assertSourceStillServes(current, sent);
      await assertTargetDroppedAfterIdle(current);
    });

    it('aborts when the target dies after the freeze, and the source processes everything it buffered', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      const current = nodes;
      const sent = sendBurst(current, 'before', 100);
      current.hostB.faults.activate = () => {
        sent.push(...sendBurst(current, 'frozen', 25));
        assert.equal(current.hostA.bufferedCount(STATEFUL.name), 25, 'the frozen source buffers arrivals');
        current.agentB.destroy();
        throw new Error('node-b died');
      };
      const result = await current.agentA.migrate(STATEFUL.name);
      assert.equal(result.outcome, 'aborted', 'the move must abort');
      assert.equal(
        result.transitions.at(-2)?.from,
        MigrationState.CUTTING_OVER,
        'it aborted in the take-over call',
      );
      assert.ok(current.hostA.calls.includes('resume'), 'the source resumed');
      assert.ok(result.freezeWindowMs >= 0, 'the freeze window is recorded on abort too');
      // node-b cannot be asked whether its cutover happened: node-a took epoch 2 at the data plane.
      assertSourceStillServes(current, sent, 2);
      assert.deepEqual(
        current.hostA.processed.filter((id) => id.startsWith('frozen-')),
        sent.filter((id) => id.startsWith('frozen-')),
        'the buffered requests are processed on node-a, in arrival order',
      );
      await assertTargetDroppedAfterIdle(current);
    });

    it('aborts when the gRPC link is cut in the middle of the state stream', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network', proxied: true });
      const current = nodes;
      current.hostA.fill(STATEFUL.name, 512, 4096);
      const sent = sendBurst(current, 'before', 50);
      current.hostA.faults.readExportChunk = (request) => {
        if (request.op === 'readExportChunk' && request.index === 4) current.proxy?.cut();
      };
      const result = await current.agentA.migrate(STATEFUL.name);
      assert.equal(result.outcome, 'aborted', 'the move must abort');
      assert.equal(result.abortReason?.code, 'ERR_PEER_UNREACHABLE', 'because the link is gone');
      assertSourceStillServes(current, sent);
      // The Abort could not reach node-b either: its idle timeout cleans up.
      await assertTargetDroppedAfterIdle(current);
    });

    it('aborts when the CLAIM is stale (a newer owner is in force): the target is fenced and drops the state', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      const current = nodes;
      const sent = sendBurst(current, 'before', 60);
      current.dataPlane.setOwner(STATEFUL.serviceId, { nodeId: 1, epoch: 9 });
      current.hostB.faults.activate = () => {
        sent.push(...sendBurst(current, 'frozen', 10));
      };
      const result = await current.agentA.migrate(STATEFUL.name);
      assert.equal(result.outcome, 'aborted', 'the move must abort');
      assert.equal(result.abortReason?.code, 'ERR_MIGRATION_STALE_EPOCH', 'because the CLAIM was stale');
      assert.deepEqual(
        current.dataPlane.ownerOf(STATEFUL.serviceId),
        { nodeId: 1, epoch: 9 },
        'the owner in force is unchanged',
      );
      assert.equal(current.hostB.role(STATEFUL.name), 'standby', 'node-b dropped the state at once');
      assert.equal(current.hostA.role(STATEFUL.name), 'owner', 'node-a resumed');
      assert.deepEqual(current.hostA.noticeHandOvers, [], 'no cutover, so no notice');
      assertNoneLostOrDuplicated(current, sent);
    });

    it('resumes at the new epoch when the link is cut and the target never reached the data plane: the source wins the contest', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network', proxied: true });
      const current = nodes;
      const sent = sendBurst(current, 'before', 40);
      current.dataPlane.unreachableNodes.add(2);
      current.hostB.faults.activate = () => {
        sent.push(...sendBurst(current, 'frozen', 10));
        current.proxy?.cut();
      };
      const result = await current.agentA.migrate(STATEFUL.name);
      assert.equal(result.outcome, 'aborted', 'the move aborts');
      assert.deepEqual(
        current.dataPlane.ownerOf(STATEFUL.serviceId),
        { nodeId: 1, epoch: 2 },
        'node-a took epoch 2 at the data plane, so the CLAIM of node-b can no longer win',
      );
      assert.equal(current.hostA.role(STATEFUL.name), 'owner', 'node-a resumed');
      assert.equal(current.hostA.epoch(STATEFUL.name), 2, 'at the epoch it took');
      current.dataPlane.unreachableNodes.delete(2);
      current.clock.advance(TEST_SETTINGS.timeouts.cutoverMs);
      await until(() => current.hostB.role(STATEFUL.name) === 'standby', 'node-b gives up and drops');
      assertNoneLostOrDuplicated(current, sent);
      assert.deepEqual(current.hostB.processed, [], 'node-b processed nothing');
    });

    it('completes forward when the link is cut after the target won the data plane: the source loses the contest', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network', proxied: true });
      const current = nodes;
      const sent = sendBurst(current, 'before', 40);
      current.hostB.faults.activate = () => {
        sent.push(...sendBurst(current, 'frozen', 10));
      };
      // The TakeOver answer never comes back, and no later call gets through.
      current.dataPlane.onAccepted = (claim) => {
        if (claim.nodeId === 2) current.proxy?.cut();
      };
      const result = await current.agentA.migrate(STATEFUL.name);
      sent.push(...sendBurst(current, 'after', 20));
      assert.equal(result.outcome, 'committed', JSON.stringify(result.abortReason));
      assert.deepEqual(current.dataPlane.ownerOf(STATEFUL.serviceId), { nodeId: 2, epoch: 2 });
      assert.equal(current.hostA.role(STATEFUL.name), 'forwarding', 'node-a handed over');
      assert.equal(current.hostB.role(STATEFUL.name), 'owner', 'node-b owns the service');
      assertNoneLostOrDuplicated(current, sent);
    });

    it('reconfiguration: completes forward when the link is cut after the target cut over; the function hosts settle it', async () => {
      nodes = await startTwoNodes({ cutover: 'reconfiguration', proxied: true });
      const current = nodes;
      const sent = sendBurst(current, 'before', 40);
      // The target's route is set as the link goes down: no answer to TakeOver, no Abort gets through.
      current.hostB.faults.setRoute = () => current.proxy?.cut();
      const result = await current.agentA.migrate(STATEFUL.name);
      sent.push(...sendBurst(current, 'after', 20));
      assert.equal(result.outcome, 'committed', JSON.stringify(result.abortReason));
      assert.deepEqual(current.hostA.contests, ['activated'], "node-b's function host had activated");
      assert.equal(current.hostA.role(STATEFUL.name), 'forwarding', 'node-a handed over');
      assert.equal(current.hostB.role(STATEFUL.name), 'owner', 'node-b owns the service');
      assertNoneLostOrDuplicated(current, sent);
    });

    it('reconfiguration: resumes when the link is cut before the target activated; its function host is fenced', async () => {
      nodes = await startTwoNodes({ cutover: 'reconfiguration', proxied: true });
      const current = nodes;
      current.hostB.acceptsHandOffs = false;
      const sent = sendBurst(current, 'before', 40);
      // TakeOver never reaches the target.
      current.hostA.faults.freeze = () => {
        sent.push(...sendBurst(current, 'frozen', 10));
        current.proxy?.cut();
      };
      const result = await current.agentA.migrate(STATEFUL.name);
      assert.equal(result.outcome, 'aborted', 'the move aborts');
      assert.deepEqual(current.hostA.contests, ['fenced']);
      assert.equal(current.hostA.role(STATEFUL.name), 'owner', 'node-a resumed');
      await assert.rejects(
        current.hostB.call(
          { op: 'activate', service: STATEFUL.name, migrationId: result.migrationId, epoch: 2 },
          0,
        ),
        /fenced/,
        'node-b can no longer activate the move',
      );
      assertNoneLostOrDuplicated(current, sent);
      assert.deepEqual(current.hostB.processed, [], 'node-b processed nothing');
    });

    it('aborts when the activated state differs from the source state', async () => {
      nodes = await startTwoNodes({ cutover: 'reconfiguration' });
      const current = nodes;
      const sent = sendBurst(current, 'before', 60);
      current.hostB.faults.activate = () => {
        current.hostB.fill(STATEFUL.name, 1, 8); // a byte the source never had
      };
      const result = await current.agentA.migrate(STATEFUL.name);
      assert.equal(result.outcome, 'aborted', 'the move must abort');
      assert.equal(
        result.abortReason?.code,
        'ERR_MIGRATION_CHECKSUM_MISMATCH',
        'because the checksums differ',
      );
      assert.equal(current.hostB.role(STATEFUL.name), 'standby', 'node-b dropped the state');
      assert.equal(current.hostA.routeOf(STATEFUL.name), undefined, 'no route was changed');
      assertSourceStillServes(current, sent);
    });

    it('aborts when the data plane never answers the CLAIM, and the target drops the state', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      const current = nodes;
      const sent = sendBurst(current, 'before', 40);
      current.dataPlane.isSilent = true;
      current.hostB.faults.activate = () => {
        sent.push(...sendBurst(current, 'frozen', 12));
      };
      const pending = current.agentA.migrate(STATEFUL.name);
      await until(() => current.dataPlane.received.length > 0, 'the target sends its CLAIM');
      current.clock.advance(8_000); // the target's CLAIM wait (80 % of cutoverMs) ends first
      // Then the source's own CLAIM of the move's epoch, before it resumes, goes unanswered too.
      await until(() => current.dataPlane.received.some((claim) => claim.nodeId === 1), 'node-a claims');
      current.clock.advance(10_000);
      const result = await pending;
      assert.equal(result.outcome, 'aborted', 'the move must abort');
      assert.equal(result.abortReason?.code, 'ERR_MIGRATION_TIMEOUT', 'because the CLAIM was never answered');
      assert.equal(current.hostB.role(STATEFUL.name), 'standby', 'node-b dropped the state');
      assertSourceStillServes(current, sent);
    });

    it("takes the service back at the next epoch when a CLAIM of the target's function host won after the target dropped the move", async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      const current = nodes;
      const sent = sendBurst(current, 'before', 40);
      current.hostB.acceptsHandOffs = false;
      // The relayed activation fails, so node-b's agent drops the move; a CLAIM node-b's function host
      // had sent by itself wins at the data plane all the same.
      current.hostB.faults.activate = () => {
        sent.push(...sendBurst(current, 'frozen', 6));
        current.dataPlane.setOwner(STATEFUL.serviceId, { nodeId: 2, epoch: 2 });
        throw new EdgeShiftError('ERR_FNHOST_BAD_STATE_DATA', 'the last delta does not parse');
      };
      const result = await current.agentA.migrate(STATEFUL.name);
      assert.equal(result.outcome, 'aborted', 'the move aborts');
      assert.equal(current.hostB.role(STATEFUL.name), 'standby', 'node-b dropped the state');
      assertSourceStillServes(current, sent, 3);
      sent.push(...sendBurst(current, 'after', 20));
      assertNoneLostOrDuplicated(current, sent);
    });

    it('aborts a step that hangs once its timeout passes', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      const current = nodes;
      const sent = sendBurst(current, 'before', 30);
      current.hostB.faults.importDelta = () => new Promise<void>(() => undefined);
      const pending = current.agentA.migrate(STATEFUL.name);
      await until(() => current.hostB.calls.includes('importDelta'), 'the delta is being imported');
      current.clock.advance(10_000);
      const result = await pending;
      assert.equal(result.outcome, 'aborted', 'the move must abort');
      assert.equal(result.abortReason?.code, 'ERR_MIGRATION_TIMEOUT', 'because the delta step timed out');
      assertSourceStillServes(current, sent);
    });
  });

  /** Moves a 512 KiB state from node-a to node-b with requests during the pre-copy. */
  async function moveWithDeltas(current: TwoNodes): Promise<void> {
    current.hostA.fill(STATEFUL.name, 64, 8192);
    const sent = sendBurst(current, 'before', 40);
    current.hostA.faults.nextDelta = () => void sent.push(...sendBurst(current, `delta-${sent.length}`, 5));
    const result = await current.agentA.migrate(STATEFUL.name);
    assert.equal(result.outcome, 'committed', JSON.stringify(result.abortReason));
  }

  it('streams the snapshot and the pre-copy at the stream weight, and the freeze window at full weight', async () => {
    nodes = await startTwoNodes({ cutover: 'reconfiguration' });
    await moveWithDeltas(nodes);
    const source = nodes.streamA.opsDuring();
    assert.ok(source.includes('readExportChunk') && source.includes('nextDelta'), source.join(','));
    assert.ok(!source.includes('freeze') && !source.includes('handOver'), source.join(','));
    const target = nodes.streamB.opsDuring();
    assert.ok(target.includes('importChunk'), target.join(','));
    assert.ok(!target.includes('activate'), target.join(','));
  });

  it('runs the whole of an in-network move with the direct hand-off at the stream weight, and restores it after', async () => {
    nodes = await startTwoNodes({ cutover: 'in-network' });
    await moveWithDeltas(nodes);
    const source = nodes.streamA.opsDuring();
    for (const op of ['beginExport', 'readExportChunk', 'freeze', 'handOver', 'dropState']) {
      assert.ok(source.includes(op), `${op} at the stream weight: ${source.join(',')}`);
    }
    const target = nodes.streamB.opsDuring();
    for (const op of ['beginImport', 'importChunk', 'activate']) {
      assert.ok(target.includes(op), `${op} at the stream weight: ${target.join(',')}`);
    }
    const current = nodes;
    await until(() => current.streamB.unreleased === 0, 'the target restores its weight when it commits');
    assert.equal(current.streamA.unreleased, 0);
  });

  describe('the direct hand-off', () => {
    async function moveAndCheck(current: TwoNodes): Promise<void> {
      const sent = sendBurst(current, 'before', 60);
      current.hostB.faults.activate = () => {
        sent.push(...sendBurst(current, 'frozen', 10));
      };
      const result = await current.agentA.migrate(STATEFUL.name);
      sent.push(...sendBurst(current, 'after', 20));
      assert.equal(result.outcome, 'committed', JSON.stringify(result.abortReason));
      assert.equal(current.hostB.role(STATEFUL.name), 'owner');
      assertNoneLostOrDuplicated(current, sent);
    }

    it('a lost hand-off changes nothing: the target activates on the relayed TakeOver', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      nodes.hostB.acceptsHandOffs = false;
      await moveAndCheck(nodes);
      assert.deepEqual(nodes.hostB.handOffActivations, [], 'no direct activation');
      assert.equal(nodes.hostB.calls.filter((op) => op === 'activate').length, 1, 'one relayed activate');
    });

    it("asks the target's function host to claim an in-network move itself, with the source's notice", async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      await moveAndCheck(nodes);
      const [plan, ...more] = nodes.hostB.directCutovers;
      assert.equal(more.length, 0, 'one move, one plan');
      assert.equal(
        plan?.notice.to.port,
        nodes.hostA.endpoint.port,
        "the notice goes to the source's service port",
      );
      assert.equal(plan?.nodeNumber, 2);
      assert.ok((plan?.retransmitMs ?? 0) > 0 && (plan?.claimTimeoutMs ?? 0) > 0, JSON.stringify(plan));
    });

    it('leaves the cutover of a reconfiguration move to the agents', async () => {
      nodes = await startTwoNodes({ cutover: 'reconfiguration' });
      await moveAndCheck(nodes);
      assert.deepEqual(nodes.hostB.directCutovers, []);
    });

    it('is not offered when directHandOff is off', async () => {
      nodes = await startTwoNodes({ cutover: 'reconfiguration', settings: { directHandOff: false } });
      await moveAndCheck(nodes);
      assert.deepEqual(nodes.hostB.handOffActivations, []);
      assert.ok(!nodes.hostB.calls.includes('awaitActivation'), 'the target waits for no hand-off');
    });

    it('activates and cuts over once when the hand-off and TakeOver both arrive (reconfiguration)', async () => {
      nodes = await startTwoNodes({ cutover: 'reconfiguration' });
      await moveAndCheck(nodes);
      assert.deepEqual(nodes.hostB.handOffActivations, [`${STATEFUL.name}@2`]);
      assert.equal(
        nodes.hostB.calls.filter((op) => op === 'activate').length,
        1,
        "the hand-off's activation only: TakeOver found the agent's cutover on it done",
      );
      assert.equal(nodes.hostA.noticeHandOvers.length, 1, 'one notice');
      assert.deepEqual(nodes.hostA.routeOf(STATEFUL.name), {
        owner: nodes.hostB.endpoint,
        epoch: 2,
      });
    });
  });

  describe('failures after the cutover complete forward', () => {
    it('the target keeps the service when the source dies after the cutover', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      const current = nodes;
      const sent = sendBurst(current, 'before', 80);
      current.hostB.faults.activate = () => {
        sendBurst(current, 'frozen', 5); // buffered on node-a, which is about to die
        current.hostA.acceptsNotices = false; // dead before node-b's cutover notice reaches it
      };
      current.hostA.faults.handOver = () => {
        current.agentA.destroy();
        return new Promise<void>(() => undefined); // node-a is gone: nothing it holds comes back
      };
      void current.agentA.migrate(STATEFUL.name);
      await until(() => current.hostA.calls.includes('handOver'), 'the source reaches the hand-over');
      assert.deepEqual(
        current.dataPlane.ownerOf(STATEFUL.serviceId),
        { nodeId: 2, epoch: 2 },
        'node-b has claimed the service',
      );
      current.clock.advance(30_000);
      await until(() => !current.agentB.isBusy(STATEFUL.name), 'node-b closes the migration');
      assert.equal(current.hostB.role(STATEFUL.name), 'owner', 'node-b keeps the service (complete forward)');
      assert.equal(current.hostB.epoch(STATEFUL.name), 2, 'at epoch 2');
      assert.ok(!current.hostB.calls.includes('dropState'), 'node-b never drops the state after the cutover');
      sent.push(...sendBurst(current, 'after', 40));
      assert.equal(
        current.hostB.processed.filter((id) => id.startsWith('after-')).length,
        40,
        'new requests are served by node-b',
      );
      assertNoneLostOrDuplicated(current, sent);
      // What the crash costs: the 5 requests buffered in the dead source's memory were never processed.
      assert.equal(
        current.hostA.bufferedCount(STATEFUL.name),
        5,
        'requests buffered in a crashed source are lost with it',
      );
    });

    it("completes forward when the target's own CLAIM goes unanswered but its function host had claimed the epoch itself", async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      const current = nodes;
      const sent = sendBurst(current, 'before', 50);
      current.hostB.faults.activate = () => {
        sent.push(...sendBurst(current, 'frozen', 7));
      };
      // What node-b's function host did by its direct cutover: its CLAIM won, and it keeps the state.
      current.hostB.faults.dropState = () => {
        throw new EdgeShiftError('ERR_FNHOST_CUT_OVER', 'node-b holds epoch 2 as the new owner');
      };
      current.dataPlane.isSilent = true;
      const pending = current.agentA.migrate(STATEFUL.name);
      await until(() => current.dataPlane.received.length > 0, 'the target agent sends its CLAIM');
      current.dataPlane.setOwner(STATEFUL.serviceId, { nodeId: 2, epoch: 2 });
      for (let step = 0; step < 60; step += 1) {
        current.clock.advance(500);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const result = await pending;
      assert.equal(result.outcome, 'committed', JSON.stringify(result.abortReason));
      assert.ok(current.hostB.calls.includes('dropState'), 'the target agent tried to abort');
      assert.equal(current.hostB.role(STATEFUL.name), 'owner', 'node-b keeps the service');
      assert.equal(current.hostA.role(STATEFUL.name), 'forwarding', 'node-a forwards');
      assertNoneLostOrDuplicated(current, sent);
    });

    it('completes forward when the target refuses TakeOver but its function host had claimed the epoch itself', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      const current = nodes;
      const sent = sendBurst(current, 'before', 50);
      current.hostB.acceptsHandOffs = false; // the relayed TakeOver carries the activation
      // node-b's function host activates and wins its own CLAIM, but its answer to the agent is lost.
      current.hostB.faults.activate = async (request) => {
        delete current.hostB.faults.activate;
        await current.hostB.call(request, 0);
        current.dataPlane.setOwner(STATEFUL.serviceId, { nodeId: 2, epoch: 2 });
        sent.push(...sendBurst(current, 'frozen', 7));
        throw new EdgeShiftError('ERR_FNHOST_CHANNEL_CLOSED', 'the control channel closed before the answer');
      };
      current.hostB.faults.dropState = () => {
        throw new EdgeShiftError('ERR_FNHOST_CUT_OVER', 'node-b holds epoch 2 as the new owner');
      };
      const result = await current.agentA.migrate(STATEFUL.name);
      assert.equal(result.outcome, 'committed', JSON.stringify(result.abortReason));
      assert.equal(result.abortReason, undefined, 'a move that completes forward has no abort reason');
      assert.equal(current.hostA.role(STATEFUL.name), 'forwarding', 'node-a forwards, never resumes');
      assert.ok(!current.hostA.calls.includes('resume'), 'node-a is never resumed beside the new owner');
      assert.equal(current.hostB.role(STATEFUL.name), 'owner', 'node-b keeps the service');
      sent.push(...sendBurst(current, 'after', 20));
      assertNoneLostOrDuplicated(current, sent);
    });

    it('resends a CLAIM that got no answer and commits once the data plane accepts it', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      const current = nodes;
      const sent = sendBurst(current, 'before', 50);
      current.hostB.faults.activate = () => {
        sent.push(...sendBurst(current, 'frozen', 7));
      };
      // The first CLAIM (or its answer) is lost.
      current.dataPlane.isSilent = true;
      const pending = current.agentA.migrate(STATEFUL.name);
      await until(() => current.dataPlane.received.length > 0, 'the target sends its CLAIM');
      current.dataPlane.isSilent = false;
      current.clock.advance(200); // retransmit: this CLAIM is accepted
      await until(
        () => current.dataPlane.ownerOf(STATEFUL.serviceId)?.nodeId === 2,
        'the data plane switches',
      );
      const result = await pending;
      assert.equal(result.outcome, 'committed', 'the move completes');
      assert.equal(current.hostA.role(STATEFUL.name), 'forwarding', 'node-a forwards');
      assertNoneLostOrDuplicated(current, sent);
    });
  });

  describe('state transfer', () => {
    it('stops reading the snapshot while the target is not taking chunks (backpressure), then finishes', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network', settings: { chunkBytes: 16 * 1024 } });
      const current = nodes;
      current.hostA.fill(STATEFUL.name, 1024, 4096); // 4 MiB: 257 chunks of 16 KiB
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      current.hostB.faults.importChunk = () => gate;
      const reads = (): number => current.hostA.calls.filter((op) => op === 'readExportChunk').length;
      const pending = current.agentA.migrate(STATEFUL.name);
      await until(() => current.hostB.calls.includes('importChunk'), 'the target starts importing');
      // Give the sender every chance to run ahead (real time passes while polling).
      let polls = 0;
      await until(() => (polls += 1) > 3_000, 'the sender has had time to run ahead');
      const readWhileBlocked = reads();
      // Bounded by the gRPC stream buffers and the HTTP/2 window (about 1 MiB here), whatever the state size.
      assert.ok(
        readWhileBlocked <= 80,
        `only ${readWhileBlocked} of 257 chunks may be read while the target is stuck`,
      );
      release();
      const result = await pending;
      assert.equal(result.outcome, 'committed', 'the move completes once the target takes chunks again');
      assert.equal(reads(), result.chunkCount, 'every chunk is read exactly once');
      assert.ok(result.chunkCount > 250, `${result.chunkCount} chunks`);
    });
  });
});
