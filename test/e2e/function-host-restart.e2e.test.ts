// A restart of the function host component (as a Greengrass deployment does: SIGTERM, then the Run
// script again) on the two-node test bed. With a peer to take it, the owner's function host has the agent
// move sensor-stats there before it stops, and clients under load notice nothing. Without a drain, the
// node that owns sensor-stats keeps its state and epoch across the restart, whatever role its
// configuration gives it, and moves go on from there.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { counterStateChecker } from '../../scripts/loadgen/reply-checker.ts';
import { LoadGenerator, type LoadReport } from '../../scripts/loadgen/load-generator.ts';
import {
  sharedArtifactDir,
  TESTBED_COMPONENTS,
  TwoNodeTestbed,
  type NodeName,
} from '../../scripts/testbed/two-node-testbed.ts';
import { assertNoFault } from './support/load-assertions.ts';

const SERVICE = 'sensor-stats';

/**
 * Runs `stop` (a restart, a whole node's stop) a second into 7 s of load at 200 req/s, and checks the
 * load: none lost, duplicated or with wrong state, and none slower than one call timeout. A call from
 * ingest to a stopped sensor-stats is retried after callTimeoutMs (the test bed's 1000 ms), so it
 * would arrive at last, but slower than that: none may have needed a retry.
 */
async function stopUnderLoad(
  bed: TwoNodeTestbed,
  label: string,
  stop: () => Promise<void>,
): Promise<LoadReport> {
  const generator = new LoadGenerator({
    target: bed.target('ingest'),
    service: 'ingest',
    rateHz: 200,
    durationMs: 7000,
    keyCount: 40,
    replyDeadlineMs: 3000,
    checkState: counterStateChecker(),
  });
  const load = generator.run();
  await delay(1000);
  await stop();
  generator.mark('stopped');
  const report = await load;
  assertNoFault(report, `load across ${label}`);
  const slowestMs = report.latency.fromSent.maxMs;
  assert.ok(slowestMs < 1000, `no request waited out a stopped node (slowest ${slowestMs} ms)`);
  // A stop that outlasted the load would hide what happens without the node.
  const stoppedAtMs = report.markers.find((marker) => marker.label === 'stopped')?.atMs ?? Infinity;
  const sentAfter = report.buckets
    .filter((bucket) => bucket.startMs >= stoppedAtMs)
    .reduce((sum, bucket) => sum + bucket.sent, 0);
  assert.ok(sentAfter >= 200, `the load went on for a second or more after ${label} (${sentAfter} sent)`);
  return report;
}

function restartUnderLoad(bed: TwoNodeTestbed, node: NodeName): Promise<LoadReport> {
  return stopUnderLoad(bed, `the restart of ${node}`, () =>
    bed.restartComponent(node, TESTBED_COMPONENTS.functionHost),
  );
}

describe('e2e/function-host-restart', function () {
  this.timeout(120_000);
  let bed: TwoNodeTestbed | undefined;

  before(async function () {
    this.timeout(120_000);
    await sharedArtifactDir();
  });

  afterEach(async () => {
    await bed?.close();
    bed = undefined;
  });

  it('the owner moves its service to the peer before a restart, and no client request is lost', async () => {
    bed = await TwoNodeTestbed.start({ sensorStatsOptions: { windowLength: 16, paddingBytesPerKey: 512 } });
    const running = bed;
    const before = await running.stateOf(SERVICE);
    assert.deepEqual([before['node-a'].role, before['node-a'].epoch], ['owner', 1]);
    await restartUnderLoad(running, 'node-a');

    assert.deepEqual(await running.dataPlaneOwner(SERVICE), { nodeId: 2, epoch: 2 }, 'moved to node-b');
    const checkpoints = path.join(
      running.nodeInfo('node-a').rootPath,
      'work',
      TESTBED_COMPONENTS.functionHost,
      'state-checkpoints',
    );
    assert.deepEqual(await readdir(checkpoints).catch(() => []), [], 'node-a left no state behind');
    // node-a came back in its configured role (owner at epoch 1); its agent lets it stand down.
    let after = await running.stateOf(SERVICE);
    for (let attempt = 0; after['node-a'].role === 'owner' && attempt < 100; attempt += 1) {
      await delay(100);
      after = await running.stateOf(SERVICE);
    }
    assert.deepEqual([after['node-b'].role, after['node-b'].epoch], ['owner', 2]);
    assert.notEqual(after['node-a'].role, 'owner', 'node-a stood down');

    const back = await running.migrate(SERVICE, 'node-a');
    assert.equal(back.outcome, 'committed', JSON.stringify(back.abortReason));
    const end = await running.stateOf(SERVICE);
    assert.deepEqual([end['node-a'].role, end['node-a'].epoch], ['owner', 3]);
    assert.equal(end['node-a'].checksum, after['node-b'].checksum, 'the state moved back whole');
  });

  it('a restart of the node that serves ingest sends ingest to the other node first, and nothing is lost', async () => {
    // The data plane balances ingest (and alert) to the less loaded node: node-b reports 30 %, node-a 40 %.
    bed = await TwoNodeTestbed.start({ sensorStatsOptions: { windowLength: 16, paddingBytesPerKey: 512 } });
    const running = bed;
    const report = await restartUnderLoad(running, 'node-b');
    assert.ok((report.nodes['node-a'] ?? 0) > 0, `node-a took ingest over: ${JSON.stringify(report.nodes)}`);
    assert.ok((report.nodes['node-b'] ?? 0) > 0, 'node-b served ingest before');
  });

  it('a whole node that stops moves its service to the peer first, and nothing is lost', async () => {
    bed = await TwoNodeTestbed.start({ sensorStatsOptions: { windowLength: 16, paddingBytesPerKey: 512 } });
    const running = bed;
    const report = await stopUnderLoad(running, 'the stop of node-a', () =>
      running.localNode('node-a').close(),
    );
    assert.deepEqual(report.nodes, { 'node-b': report.totals.replied }, 'node-b served everything');
    assert.deepEqual(await running.dataPlaneOwner(SERVICE), { nodeId: 2, epoch: 2 }, 'moved to node-b');
    const after = await running.stateOf(SERVICE).catch(() => undefined);
    assert.equal(after, undefined, 'node-a is gone');
    const owner = (await running.functions('node-b')).find((entry) => entry.service === SERVICE);
    assert.deepEqual([owner?.role, owner?.epoch], ['owner', 2]);
  });

  it('without a drain, the owner after a move comes back from a restart as the owner, with its state', async () => {
    bed = await TwoNodeTestbed.start({
      sensorStatsOptions: { windowLength: 16, paddingBytesPerKey: 512 },
      drainTimeoutMs: 0,
    });
    const load = await new LoadGenerator({
      target: bed.target('ingest'),
      service: 'ingest',
      rateHz: 200,
      durationMs: 1500,
      keyCount: 40,
      replyDeadlineMs: 3000,
      checkState: counterStateChecker(),
    }).run();
    assertNoFault(load, 'load before the move');
    const there = await bed.migrate(SERVICE, 'node-b');
    assert.equal(there.outcome, 'committed', JSON.stringify(there.abortReason));
    const before = await bed.stateOf(SERVICE);
    assert.deepEqual([before['node-b'].role, before['node-b'].epoch], ['owner', 2]);

    await bed.restartComponent('node-b', TESTBED_COMPONENTS.functionHost);

    const after = await bed.stateOf(SERVICE);
    assert.deepEqual(
      [after['node-b'].role, after['node-b'].epoch],
      ['owner', 2],
      'node-b, configured as standby, owns sensor-stats again at the epoch it stopped at',
    );
    assert.equal(after['node-b'].checksum, before['node-b'].checksum, 'with the state it had');
    assert.deepEqual(await bed.dataPlaneOwner(SERVICE), { nodeId: 2, epoch: 2 });
    const back = await bed.migrate(SERVICE, 'node-a');
    assert.equal(back.outcome, 'committed', JSON.stringify(back.abortReason));
    const end = await bed.stateOf(SERVICE);
    assert.deepEqual([end['node-a'].role, end['node-a'].epoch], ['owner', 3]);
    assert.equal(end['node-a'].checksum, before['node-b'].checksum, 'the state moved back whole');
  });
});
