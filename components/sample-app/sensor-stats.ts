// Second function of the sample application's chain: per-sensor rolling statistics over a window of
// readings with anomaly detection by z-score, then a call to alert. Stateful, and its state grows with
// the number of sensors: sensorWindowBytes(windowLength, paddingBytesPerKey) per sensor, plus
// `prefillKeys` sensors filled at start (benchmarks size the state from kilobytes to hundreds of MiB).
// Its reply carries `count`, the readings seen for the sensor, so a load generator can check state.
import type { FunctionDefinition, FunctionOptions } from '../function-host/function-loader.ts';
import type { KeyValueState } from '../function-host/state-store.ts';
import type { AlertResult } from './alert.ts';
import type { NormalisedReading } from './ingest.ts';
import { normaliseReading } from './ingest.ts';
import { addReading, decodeWindow, emptyWindow, encodeWindow, windowStatistics } from './sensor-window.ts';

export interface SensorStatsOptions {
  readonly windowLength: number;
  readonly paddingBytesPerKey: number;
  readonly prefillKeys: number;
  /** Readings a window must hold before a z-score is computed (too few give a meaningless spread). */
  readonly minSamples: number;
  readonly alertService: string;
}

export interface SensorStatsResult extends AlertResult {
  readonly sensorId: string;
  /** Readings seen for this sensor, this one included. */
  readonly count: number;
  readonly celsius: number;
  readonly mean: number;
  readonly standardDeviation: number;
  readonly zScore: number;
}

function integerOption(
  options: FunctionOptions,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = options[name] ?? fallback;
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw new RangeError(
      `sensor-stats option ${name} must be an integer in ${min}..${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value as number;
}

export function sensorStatsOptions(options: FunctionOptions): SensorStatsOptions {
  return {
    windowLength: integerOption(options, 'windowLength', 32, 1, 100_000),
    paddingBytesPerKey: integerOption(options, 'paddingBytesPerKey', 0, 0, 16 << 20),
    prefillKeys: integerOption(options, 'prefillKeys', 0, 0, 10_000_000),
    minSamples: integerOption(options, 'minSamples', 5, 2, 100_000),
    alertService: typeof options.alertService === 'string' ? options.alertService : 'alert',
  };
}

/** Sensor id of the i-th prefilled key. */
export function prefillKey(index: number): string {
  return `prefill-${index}`;
}

function prefill(state: KeyValueState, options: SensorStatsOptions): void {
  const empty = encodeWindow(emptyWindow(options.windowLength, options.paddingBytesPerKey));
  for (let i = 0; i < options.prefillKeys; i += 1) state.put(prefillKey(i), empty);
}

export function createFunction(rawOptions: FunctionOptions): FunctionDefinition {
  const options = sensorStatsOptions(rawOptions);
  return {
    name: 'sensor-stats',
    isStateful: true,
    initialize: (state) => prefill(state, options),
    handler: async (request, ctx): Promise<SensorStatsResult> => {
      const { sensorId, celsius }: NormalisedReading = normaliseReading({
        sensorId: (request.body as { sensorId?: unknown } | null)?.sensorId,
        value: (request.body as { celsius?: unknown } | null)?.celsius,
      });
      const stored = ctx.state.get(sensorId);
      const window =
        stored === undefined
          ? emptyWindow(options.windowLength, options.paddingBytesPerKey)
          : decodeWindow(stored, options.windowLength, options.paddingBytesPerKey);
      const { samples, mean, standardDeviation } = windowStatistics(window);
      // Too few readings, or all equal: no spread to measure a deviation against.
      const zScore =
        samples >= options.minSamples && standardDeviation > 0 ? (celsius - mean) / standardDeviation : 0;
      const next = addReading(window, celsius);
      ctx.state.put(sensorId, encodeWindow(next));
      const statistics = { sensorId, count: next.count, celsius, mean, standardDeviation, zScore };
      const alert = (await ctx.call(options.alertService, statistics, sensorId)) as AlertResult;
      return { ...statistics, severity: alert.severity, message: alert.message };
    },
  };
}
