// Exponentially weighted moving average over irregular intervals, and the fixed-point conversion of
// a load ratio to the basis points the METRICS header carries. Used by node-monitor.ts. The weight of
// a new sample comes from the time since the previous one and a time constant, so the smoothing in
// seconds is the same whatever the sampling period (and a skipped tick weighs the next sample more).
import { LOAD_SCALE_BP } from '../../p4/protocol/edgeshift-protocol.ts';

/** alpha = 1 - exp(-interval / timeConstant): the share of the new sample; 1 when the constant is 0. */
export function ewmaAlpha(intervalMs: number, timeConstantMs: number): number {
  if (timeConstantMs <= 0) return 1;
  if (intervalMs <= 0) return 0;
  return 1 - Math.exp(-intervalMs / timeConstantMs);
}

/** A ratio (0..1) in basis points (0..LOAD_SCALE_BP), rounded and clamped; NaN counts as 0. */
export function ratioToBasisPoints(ratio: number): number {
  if (Number.isNaN(ratio)) return 0;
  return Math.min(LOAD_SCALE_BP, Math.max(0, Math.round(ratio * LOAD_SCALE_BP)));
}

export class Ewma {
  private current: number | undefined;

  constructor(private timeConstantMs: number) {}

  /** The smoothed value, or undefined before the first sample. */
  get value(): number | undefined {
    return this.current;
  }

  setTimeConstantMs(timeConstantMs: number): void {
    this.timeConstantMs = timeConstantMs;
  }

  /** Feeds a sample taken `intervalMs` after the previous one; the first sample is taken as is. */
  update(sample: number, intervalMs: number): number {
    const alpha = this.current === undefined ? 1 : ewmaAlpha(intervalMs, this.timeConstantMs);
    this.current = this.current === undefined ? sample : this.current + alpha * (sample - this.current);
    return this.current;
  }
}
