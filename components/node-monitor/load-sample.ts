// What every load source of the node monitor returns, and the clock/timer seams it runs on. The host,
// cgroup and synthetic samplers implement LoadSampler; node-monitor.ts smooths their samples and
// announces them. Invariant: a sample never blocks the event loop (files are read with fs.promises).

/** One reading of a load source; ratios of the source's capacity, 0..1. */
export interface LoadSample {
  /**
   * CPU busy ratio over the interval since the previous sample; null when there is no valid interval
   * yet (first sample) or the counters went backwards (wrap or reset): the smoother then holds its value.
   */
  readonly cpuLoadRatio: number | null;
  readonly memLoadRatio: number;
}

export interface LoadSampler {
  sample(): Promise<LoadSample>;
}

/** Monotonic milliseconds (performance.now in production); only differences are meaningful. */
export interface MonotonicClock {
  nowMs(): number;
}

export const systemClock: MonotonicClock = { nowMs: () => performance.now() };

export function clampRatio(value: number): number {
  if (Number.isNaN(value)) return 0;
  return Math.min(1, Math.max(0, value));
}
