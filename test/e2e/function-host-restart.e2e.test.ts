// A restart of the function host component (as a Greengrass deployment does: SIGTERM, then the Run
// script again) on the two-node test bed: the node that owns sensor-stats keeps its state and epoch,
// whatever role its configuration gives it, and moves go on from there.
import assert from 'node:assert/strict';

import { counterStateChecker } from '../../scripts/loadgen/reply-checker.ts';
import { LoadGenerator } from '../../scripts/loadgen/load-generator.ts';
import {
  sharedArtifactDir,
  TESTBED_COMPONENTS,
  TwoNodeTestbed,
} from '../../scripts/testbed/two-node-testbed.ts';
import { assertNoFault } from './support/load-assertions.ts';

const SERVICE = 'sensor-stats';

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

  it('the owner after a move comes back from a restart as the owner, with its state, and moves on', async () => {
    bed = await TwoNodeTestbed.start({ sensorStatsOptions: { windowLength: 16, paddingBytesPerKey: 512 } });
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
