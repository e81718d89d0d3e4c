import assert from 'node:assert/strict';

import type { AdviceOutcome } from '../../agent/peer-agent.ts';
import type { EdgeShiftError } from '../../components/common/errors.ts';
import type { EdgeShiftHeader } from '../../p4/protocol/edgeshift-header.ts';
import { PacketType } from '../../p4/protocol/edgeshift-protocol.ts';
import {
  restartedAsOwner,
  STATEFUL,
  STATELESS,
  startTwoNodes,
  type TwoNodes,
} from './support/two-node-harness.ts';
import { until } from './support/until.ts';

/** ADVICE as the data plane sends it: to `nodeId`, offload `serviceId` to `targetNodeId` at that load. */
function advice(
  nodeId: number,
  targetNodeId: number,
  targetLoadBp: number,
  serviceId: number = STATEFUL.serviceId,
): EdgeShiftHeader {
  return {
    type: PacketType.ADVICE,
    nodeId,
    serviceId,
    sequence: 1,
    epoch: 1,
    cpuLoadBp: targetLoadBp,
    memLoadBp: 1000,
    inflightRequests: 0,
    targetNodeId,
  };
}

describe('agent/peer-agent', function () {
  this.timeout(60_000);
  let nodes: TwoNodes;

  beforeEach(async () => {
    nodes = await startTwoNodes({ cutover: 'in-network' });
  });

  afterEach(async () => {
    await nodes.close();
  });

  describe('handleAdvice', () => {
    it('starts a move on the K-th ADVICE while the target has room', async () => {
      nodes.agentA.observeLocalLoad(9000);
      const outcomes: AdviceOutcome[] = [];
      for (let index = 0; index < 3; index += 1)
        outcomes.push(await nodes.agentA.handleAdvice(advice(1, 2, 2000)));
      assert.deepEqual(
        outcomes.map((outcome) => outcome.kind),
        ['declined', 'declined', 'started'],
        'K = 3 consecutive ADVICEs before a move',
      );
      const started = outcomes[2];
      assert.ok(started?.kind === 'started');
      assert.equal((await started.result).outcome, 'committed', 'the move commits');
      assert.equal(nodes.hostB.role(STATEFUL.name), 'owner', 'node-b owns the service');
    });

    it('declines while the advised target is itself loaded above the low threshold', async () => {
      nodes.agentA.observeLocalLoad(9000);
      for (let index = 0; index < 5; index += 1) {
        const outcome = await nodes.agentA.handleAdvice(advice(1, 2, 7000));
        assert.equal(outcome.kind, 'declined', 'a target at 70 % has no room (low threshold 50 %)');
      }
    });

    it('declines while this node reports a load under the high threshold', async () => {
      nodes.agentA.observeLocalLoad(6000);
      for (let index = 0; index < 5; index += 1) {
        assert.equal((await nodes.agentA.handleAdvice(advice(1, 2, 1000))).kind, 'declined');
      }
    });

    it('does not send the service straight back: the new owner cools down after the move', async () => {
      nodes.agentA.observeLocalLoad(9000);
      let last: AdviceOutcome | undefined;
      for (let index = 0; index < 3; index += 1) last = await nodes.agentA.handleAdvice(advice(1, 2, 2000));
      assert.ok(last?.kind === 'started');
      await last.result;
      nodes.agentB.observeLocalLoad(9000);
      for (let index = 0; index < 6; index += 1) {
        const back = await nodes.agentB.handleAdvice(advice(2, 1, 2000));
        assert.equal(back.kind, 'declined', 'node-b is cooling down after the move into it');
      }
      nodes.clock.advance(60_000);
      const outcomes = [];
      for (let index = 0; index < 3; index += 1)
        outcomes.push((await nodes.agentB.handleAdvice(advice(2, 1, 2000))).kind);
      assert.deepEqual(
        outcomes,
        ['declined', 'declined', 'started'],
        'after the cool-down, K ADVICEs move it back',
      );
    });

    const ignored: ReadonlyArray<readonly [string, EdgeShiftHeader]> = [
      ['ADVICE addressed to another node', advice(3, 2, 1000)],
      ['ADVICE for an unknown service', advice(1, 2, 1000, 42)],
      ['ADVICE naming an unknown target', advice(1, 9, 1000)],
    ];
    for (const [name, header] of ignored) {
      it(`ignores ${name}`, async () => {
        assert.equal((await nodes.agentA.handleAdvice(header)).kind, 'ignored');
      });
    }
  });

  describe('start', () => {
    it('connects to its peers at once, so the first migration does not wait for a TLS handshake', async () => {
      const proxied = await startTwoNodes({ cutover: 'in-network', proxied: true });
      try {
        const proxy = proxied.proxy;
        assert.ok(proxy);
        await until(() => proxy.accepted > 0, 'node-a connects to node-b through the proxy');
      } finally {
        await proxied.close();
      }
    });
  });

  describe('a function host that came back', () => {
    it('stands down where the data plane gives the service to another node, and nowhere else', async () => {
      // node-b's function host restarted in a configured role of owner; node-a has owned it since.
      restartedAsOwner(nodes.hostB);
      nodes.dataPlane.setOwner(STATEFUL.serviceId, { nodeId: 1, epoch: 3 });
      assert.deepEqual(await nodes.agentB.reconcileOwnership(), [STATEFUL.name]);
      assert.equal(nodes.hostB.role(STATEFUL.name), 'standby', 'node-b stood down');
      assert.equal(nodes.hostB.epoch(STATEFUL.name), 3, "at the owner's epoch");
      assert.deepEqual(await nodes.agentA.reconcileOwnership(), [], 'node-a is the owner in force');
      assert.equal(nodes.hostA.role(STATEFUL.name), 'owner');
    });

    it('keeps a service the data plane names no newer owner for', async () => {
      nodes.dataPlane.setOwner(STATEFUL.serviceId, { nodeId: 2, epoch: 0 });
      assert.deepEqual(await nodes.agentA.reconcileOwnership(), []);
      assert.equal(nodes.hostA.role(STATEFUL.name), 'owner', 'an older claim elsewhere does not win');
    });
  });

  describe('migrate and pull', () => {
    it('refuses to move a service this node does not own', async () => {
      await assert.rejects(
        nodes.agentB.migrate(STATEFUL.name),
        (err: EdgeShiftError) => err.code === 'ERR_MIGRATION_NOT_OWNER',
      );
    });

    it('refuses an unknown service and an unknown peer', async () => {
      await assert.rejects(
        nodes.agentA.migrate('nope'),
        (err: EdgeShiftError) => err.code === 'ERR_MIGRATION_UNKNOWN_SERVICE',
      );
      await assert.rejects(
        nodes.agentA.migrate(STATEFUL.name, 'node-z'),
        (err: EdgeShiftError) => err.code === 'ERR_PEER_UNKNOWN',
      );
    });

    it('lets a move in progress finish before close() resolves', async () => {
      const handle = await nodes.agentA.startMigration(STATEFUL.name);
      let isSettled = false;
      void handle.result.then(() => (isSettled = true));
      await nodes.agentA.close();
      assert.ok(isSettled, 'close() drains: the move has ended');
      assert.equal((await handle.result).outcome, 'committed', 'and it committed');
    });

    it('pulls a service from its owner with RequestMigration', async () => {
      const answer = await nodes.agentB.pull(STATEFUL.name);
      assert.match(answer.migrationId, /^sensor-stats-e2-/, 'the owner names the migration it started');
      await until(() => nodes.hostB.role(STATEFUL.name) === 'owner', 'node-b owns the service');
      await until(() => !nodes.agentA.isBusy(STATEFUL.name), 'node-a finishes the move');
      const status = await nodes.agentA.status();
      assert.equal(status.lastResults[0]?.outcome, 'committed', 'node-a reports the committed move');
      assert.equal(status.lastResults[0]?.targetNodeId, 'node-b', 'to node-b');
    });
  });

  describe('drain', () => {
    it('moves every service this node owns to its peer and reports each move', async () => {
      const report = await nodes.agentA.drain();
      assert.deepEqual(report.kept, []);
      assert.deepEqual(report.moved.map((entry) => [entry.service, entry.targetNodeId, entry.epoch]).sort(), [
        [STATELESS.name, 'node-b', 2],
        [STATEFUL.name, 'node-b', 2],
      ]);
      for (const service of [STATEFUL.name, STATELESS.name]) {
        assert.equal(nodes.hostB.role(service), 'owner', `node-b owns ${service}`);
        assert.notEqual(nodes.hostA.role(service), 'owner', `node-a no longer owns ${service}`);
      }
      assert.deepEqual(await nodes.agentA.drain(), { moved: [], kept: [] }, 'nothing is left to move');
    });

    it('keeps what no peer takes, with each refusal as the reason', async () => {
      nodes.agentB.destroy();
      const report = await nodes.agentA.drain();
      assert.deepEqual(report.moved, []);
      assert.deepEqual(report.kept.map((entry) => entry.service).sort(), [STATELESS.name, STATEFUL.name]);
      for (const entry of report.kept) assert.match(entry.reason, /^node-b: /);
      assert.equal(nodes.hostA.role(STATEFUL.name), 'owner', 'node-a still serves it');
    });

    it('reports a move already under way as its own once it commits', async () => {
      const handle = await nodes.agentA.startMigration(STATEFUL.name);
      const report = await nodes.agentA.drain();
      assert.deepEqual(report.kept, []);
      assert.deepEqual(report.moved.map((entry) => entry.service).sort(), [STATELESS.name, STATEFUL.name]);
      const stateful = report.moved.find((entry) => entry.service === STATEFUL.name);
      assert.equal(stateful?.migrationId, handle.migrationId, 'the move under way, not a second one');
      assert.equal(nodes.hostB.role(STATEFUL.name), 'owner');
    });
  });
});
