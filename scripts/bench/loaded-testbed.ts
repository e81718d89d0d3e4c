// The two-node test bed under the benchmarks' open-loop load: 300 req/s on ingest over 60 sensors,
// whose sensor-stats windows (16 readings, padded to about 8 KiB per sensor) are prefilled to a
// given state size. Shared by migration.bench.ts and function-host-restart.bench.ts, so both measure
// the same service under the same load.
import { LoadGeneratorWorker } from '../loadgen/load-generator-worker.ts';
import { TwoNodeTestbed, type TwoNodeTestbedOptions } from '../testbed/two-node-testbed.ts';

const RATE_HZ = 300;
/** Fine buckets, so a short window's latency takes in little of the time around it. */
export const BUCKET_MS = 20;
/** The first second warms the path up (JIT, sockets): left out of the steady state. */
export const WARM_UP_MS = 1000;
const KEY_COUNT = 60;
const PADDING_BYTES = 8192;
/** Bytes of one sensor's window (16 readings) with its padding. */
const BYTES_PER_SENSOR = 8 + 16 * 8 + PADDING_BYTES;

export const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface LoadedTestbed {
  readonly bed: TwoNodeTestbed;
  readonly generator: LoadGeneratorWorker;
  readonly close: () => Promise<void>;
}

/** Starts the test bed with about `stateBytes` of sensor-stats state, and the load on it. */
export async function startLoadedTestbed(
  stateBytes: number,
  options: Omit<TwoNodeTestbedOptions, 'sensorStatsOptions'> = {},
): Promise<LoadedTestbed> {
  const bed = await TwoNodeTestbed.start({
    ...options,
    sensorStatsOptions: {
      windowLength: 16,
      paddingBytesPerKey: PADDING_BYTES,
      prefillKeys: Math.max(0, Math.round(stateBytes / BYTES_PER_SENSOR) - KEY_COUNT),
    },
  });
  // The clients on a thread of their own: the test bed's nuclei and log pipes share this one, and are
  // busiest during a move, which would otherwise show as latency the nodes never caused.
  const generator = LoadGeneratorWorker.start({
    target: bed.target('ingest'),
    service: 'ingest',
    rateHz: RATE_HZ,
    durationMs: 600_000,
    bucketMs: BUCKET_MS,
    keyCount: KEY_COUNT,
    replyDeadlineMs: 5000,
    counterState: {},
  });
  return {
    bed,
    generator,
    close: async () => {
      await generator.close();
      await bed.close();
    },
  };
}
