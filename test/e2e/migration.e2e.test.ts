// End-to-end migration of the stateful sensor-stats function under open-loop load, on the two-node test
// bed (two local nuclei running the function host, peer agent and node monitor from their recipes, and
// the reference data plane): A -> B -> A once with each cutover option, compared with the same request
// sequence run without any move.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import type { CutoverKind } from '../../agent/cutover/cutover-method.ts';
import type { MigrationResult } from '../../agent/migration/source-migration.ts';
import { counterStateChecker } from '../../scripts/loadgen/reply-checker.ts';
import { LoadGenerator, type LoadReport } from '../../scripts/loadgen/load-generator.ts';
import {
  sharedArtifactDir,
  TESTBED_COMPONENTS,
  TwoNodeTestbed,
} from '../../scripts/testbed/two-node-testbed.ts';
import { assertNoFault } from './support/load-assertions.ts';

const RATE_HZ = 300;
const DURATION_MS = 9000;
const KEY_COUNT = 60;
// ~2 KiB per sensor: the moved state is ~120 KiB plus the dedupe window.
const SENSOR_STATS_OPTIONS = { windowLength: 32, paddingBytesPerKey: 2048 };

interface Run {
  readonly report: LoadReport;
  readonly moves: readonly MigrationResult[];
  readonly finalOwner: { node: string; checksum: string; epoch: number };
  readonly dataPlaneOwner: { nodeId: number; epoch: number };
  /** Agents whose log shows they moved state over the function host's control channel. */
  readonly channelUsers: readonly string[];
  /** Nodes whose function host claimed the service at the data plane itself. */
  readonly directCutovers: readonly string[];
}

function load(bed: TwoNodeTestbed): LoadGenerator {
  return new LoadGenerator({
    target: bed.target('ingest'),
    service: 'ingest',
    rateHz: RATE_HZ,
    durationMs: DURATION_MS,
    keyCount: KEY_COUNT,
    replyDeadlineMs: 5000,
    checkState: counterStateChecker(),
  });
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One test bed, one load run; with `cutover`, sensor-stats moves A -> B -> A during the load. */
async function runOnce(cutover: CutoverKind, withMoves: boolean): Promise<Run> {
  const bed = await TwoNodeTestbed.start({ cutover, sensorStatsOptions: SENSOR_STATS_OPTIONS });
  try {
    const generator = load(bed);
    const running = generator.run();
    const moves: MigrationResult[] = [];
    if (withMoves) {
      await pause(2500);
      for (const to of ['node-b', 'node-a'] as const) {
        generator.mark(`move to ${to}`);
        moves.push(await bed.migrate('sensor-stats', to));
        generator.mark(`${to} owns`);
        await pause(1500);
      }
    }
    const report = await running;
    return {
      report,
      moves,
      finalOwner: await bed.ownerChecksum('sensor-stats'),
      dataPlaneOwner: await bed.dataPlaneOwner('sensor-stats'),
      channelUsers: await nodesWhoseLogHas(
        bed,
        TESTBED_COMPONENTS.peerAgent,
        'control channel to the function host open',
      ),
      directCutovers: await nodesWhoseLogHas(bed, TESTBED_COMPONENTS.functionHost, '"cut over directly"'),
    };
  } finally {
    await bed.close();
  }
}

/** The nodes whose `component` log holds `text`. */
async function nodesWhoseLogHas(
  bed: TwoNodeTestbed,
  component: (typeof TESTBED_COMPONENTS)[keyof typeof TESTBED_COMPONENTS],
  text: string,
): Promise<string[]> {
  const nodes: string[] = [];
  for (const name of ['node-a', 'node-b'] as const) {
    if ((await readFile(bed.logPath(name, component), 'utf8')).includes(text)) nodes.push(name);
  }
  return nodes;
}

describe('e2e/migration', function () {
  this.timeout(240_000);
  let baseline: Run;

  before(async function () {
    this.timeout(120_000);
    await sharedArtifactDir();
    baseline = await runOnce('in-network', false);
  });

  it('serves the deterministic sequence without a move with no fault (the reference state)', () => {
    assertNoFault(baseline.report, 'no move');
    assert.equal(baseline.finalOwner.node, 'node-a', 'node-a still owns sensor-stats');
    assert.equal(baseline.finalOwner.epoch, 1, 'at its first epoch');
  });

  for (const cutover of ['in-network', 'reconfiguration'] as const) {
    it(`moves sensor-stats A -> B -> A under load with no request lost, duplicated or wrong, final state equal (${cutover})`, async () => {
      const run = await runOnce(cutover, true);
      assert.deepEqual(
        run.moves.map((move) => [move.targetNodeId, move.outcome, move.epoch, move.cutover]),
        [
          ['node-b', 'committed', 2, cutover],
          ['node-a', 'committed', 3, cutover],
        ],
        `both moves commit: ${JSON.stringify(run.moves.map((move) => move.abortReason))}`,
      );
      assertNoFault(run.report, cutover);
      assert.deepEqual(run.channelUsers, ['node-a', 'node-b'], 'both agents moved state over the channel');
      assert.equal(run.finalOwner.node, 'node-a', 'node-a owns sensor-stats again');
      assert.equal(run.finalOwner.epoch, 3, 'at epoch 3');
      assert.equal(
        run.finalOwner.checksum,
        baseline.finalOwner.checksum,
        'the final state equals the state of the run without a move',
      );
      if (cutover === 'in-network') {
        assert.deepEqual(
          run.dataPlaneOwner,
          { nodeId: 1, epoch: 3 },
          'the data plane steers to node-a at epoch 3',
        );
        assert.deepEqual(run.directCutovers, ['node-a', 'node-b'], "each move's target claimed by itself");
      } else {
        assert.deepEqual(
          run.dataPlaneOwner,
          { nodeId: 1, epoch: 1 },
          'reconfiguration leaves the data plane untouched',
        );
        assert.deepEqual(run.directCutovers, [], 'reconfiguration leaves the cutover to the agents');
      }
      for (const move of run.moves) {
        process.stdout.write(
          `      ${cutover} -> ${move.targetNodeId}: state ${move.snapshotBytes} B, freeze ${move.freezeWindowMs.toFixed(1)} ms, cutover ${move.cutoverMs.toFixed(1)} ms, total ${move.totalMs.toFixed(0)} ms, buffered ${move.bufferedRequests}\n`,
        );
      }
    });
  }
});
