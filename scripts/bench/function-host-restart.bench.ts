// Benchmark of a planned restart of a function host on the two-node test bed under 300 req/s of
// open-loop load, as a deployment does it (SIGTERM, then Run again), with the drain before the stop
// (the recipe's default) and without it (drainTimeoutMs 0), in the same run. Two nodes to restart:
// node-a owns sensor-stats (about 16 MiB of state; without a drain it survives in a checkpoint, and
// calls to the stopped owner wait for a retry), node-b serves ingest, which the data plane balances to
// it (without a drain the requests that reach it while it is down are lost). Reports requests lost,
// duplicated or with wrong state, how long the restart took, and the p99 and slowest latency of the
// requests sent during it over the p99 of those sent before it.
import type { TimeRange } from '../loadgen/latency-timeline.ts';
import { sharedArtifactDir, TESTBED_COMPONENTS, type NodeName } from '../testbed/two-node-testbed.ts';
import type { Benchmark, Metrics } from './harness.ts';
import { pause, startLoadedTestbed, WARM_UP_MS } from './loaded-testbed.ts';

const STATE_BYTES = 16 * 1024 * 1024;
const BEFORE_RESTART_MS = 3000;
const AFTER_RESTART_MS = 2000;

async function restartUnderLoad(
  prefix: string,
  node: NodeName,
  drainTimeoutMs: number | undefined,
): Promise<Metrics> {
  const { bed, generator, close } = await startLoadedTestbed(
    STATE_BYTES,
    drainTimeoutMs === undefined ? {} : { drainTimeoutMs },
  );
  try {
    await pause(BEFORE_RESTART_MS);
    generator.mark('restart');
    const startedMs = performance.now();
    await bed.restartComponent(node, TESTBED_COMPONENTS.functionHost);
    const restartMs = performance.now() - startedMs;
    generator.mark('restarted');
    await pause(AFTER_RESTART_MS);
    generator.stop();
    const report = await generator.report;
    const [start, end] = report.markers;
    if (start === undefined || end === undefined) throw new Error('the restart markers are missing');
    const window: TimeRange = { startMs: start.atMs, endMs: end.atMs };
    const during = await generator.latencyWithin([window]);
    const steady = await generator.latencyWithin([{ startMs: WARM_UP_MS, endMs: start.atMs }]);
    return {
      [`${prefix}LostRequests`]: report.totals.lost,
      [`${prefix}DuplicateReplies`]: report.totals.duplicates,
      [`${prefix}WrongStateReplies`]: report.totals.wrongState,
      [`${prefix}RestartMs`]: restartMs,
      [`${prefix}WindowRequests`]: during.count,
      [`${prefix}SteadyP99Ms`]: steady.p99Ms,
      [`${prefix}WindowP99Ms`]: during.p99Ms,
      [`${prefix}WindowMaxMs`]: during.maxMs,
      [`${prefix}WindowOverSteadyP99`]: steady.p99Ms > 0 ? during.p99Ms / steady.p99Ms : 0,
    };
  } finally {
    await close();
  }
}

export const benchmark: Benchmark = {
  name: 'function-host-restart',
  description:
    'restart of a function host under 300 req/s (the sensor-stats owner, 16 MiB; the node serving ingest), with the drain before the stop and without',
  async run() {
    await sharedArtifactDir();
    return {
      ...(await restartUnderLoad('ownerDrain', 'node-a', undefined)),
      ...(await restartUnderLoad('ownerNoDrain', 'node-a', 0)),
      ...(await restartUnderLoad('ingestNodeDrain', 'node-b', undefined)),
      ...(await restartUnderLoad('ingestNodeNoDrain', 'node-b', 0)),
    };
  },
};
