import assert from 'node:assert/strict';

import { MigrationState } from '../../../agent/migration/migration-state.ts';
import type { MigrationResult } from '../../../agent/migration/source-migration.ts';
import { STATEFUL, STATELESS, startTwoNodes, tally, type TwoNodes } from '../support/two-node-harness.ts';

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
    it('moves a multi-MiB stateful service in checksummed chunks while requests keep arriving (in-network)', async () => {
      nodes = await startTwoNodes({ cutover: 'in-network' });
      const { hostA, hostB, agentA, dataPlane } = nodes;
      hostA.fill(STATEFUL.name, 1536, 4096); // ~6 MiB
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
        result.snapshotBytes > 6 * MIB,
        `snapshot of ${result.snapshotBytes} bytes must be over 6 MiB`,
      );
      assert.equal(
        result.chunkCount,
        Math.ceil(result.snapshotBytes / (256 * 1024)),
        'one chunk per 256 KiB',
      );
      assert.ok(result.deltaRounds >= 2, 'at least one pre-copy delta and the final one');
      assert.equal(result.bufferedRequests, 0, 'nothing was buffered yet when the freeze began');
      assert.equal(result.forwardedRequests, 30, 'the 30 requests that arrived while frozen are forwarded');
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
          MigrationState.ACTIVATING,
          MigrationState.ACTIVATED,
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
});
