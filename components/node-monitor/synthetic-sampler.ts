// Scripted load for demos and tests: CPU and memory each follow a waveform (constant, steps, ramp,
// sine, square) of the time since the sampler was created, read from the injected monotonic clock.
// Configured by the monitor's `source: {kind: 'synthetic', cpu, memory}`; reads nothing from the host.
// Invariant: a waveform's value is always within 0..100 percent.
import {
  clampRatio,
  systemClock,
  type LoadSample,
  type LoadSampler,
  type MonotonicClock,
} from './load-sample.ts';

export type Waveform =
  | { readonly shape: 'constant'; readonly percent: number }
  | {
      readonly shape: 'steps';
      readonly steps: readonly { readonly durationMs: number; readonly percent: number }[];
      /** Start over after the last step (default); otherwise hold the last step. */
      readonly repeat?: boolean;
    }
  /** Linear from fromPercent to toPercent over durationMs, then holds toPercent. */
  | {
      readonly shape: 'ramp';
      readonly fromPercent: number;
      readonly toPercent: number;
      readonly durationMs: number;
    }
  | {
      readonly shape: 'sine';
      readonly meanPercent: number;
      readonly amplitudePercent: number;
      readonly periodMs: number;
    }
  /** highPercent for the first dutyCycle share of each period (default 0.5), then lowPercent. */
  | {
      readonly shape: 'square';
      readonly lowPercent: number;
      readonly highPercent: number;
      readonly periodMs: number;
      readonly dutyCycle?: number;
    };

export interface SyntheticProfile {
  readonly cpu: Waveform;
  readonly memory?: Waveform;
}

function stepsPercentAt(waveform: Extract<Waveform, { shape: 'steps' }>, elapsedMs: number): number {
  const cycleMs = waveform.steps.reduce((sum, step) => sum + step.durationMs, 0);
  const last = waveform.steps[waveform.steps.length - 1];
  if (last === undefined) return 0;
  if (waveform.repeat === false && elapsedMs >= cycleMs) return last.percent;
  let offsetMs = cycleMs > 0 ? elapsedMs % cycleMs : 0;
  for (const step of waveform.steps) {
    if (offsetMs < step.durationMs) return step.percent;
    offsetMs -= step.durationMs;
  }
  return last.percent;
}

/** The waveform's value in percent at `elapsedMs` after the start. */
export function waveformPercentAt(waveform: Waveform, elapsedMs: number): number {
  switch (waveform.shape) {
    case 'constant':
      return waveform.percent;
    case 'steps':
      return stepsPercentAt(waveform, elapsedMs);
    case 'ramp': {
      const progress = waveform.durationMs <= 0 ? 1 : Math.min(1, elapsedMs / waveform.durationMs);
      return waveform.fromPercent + (waveform.toPercent - waveform.fromPercent) * progress;
    }
    case 'sine':
      return (
        waveform.meanPercent +
        waveform.amplitudePercent * Math.sin((2 * Math.PI * elapsedMs) / waveform.periodMs)
      );
    case 'square': {
      const phase = (elapsedMs % waveform.periodMs) / waveform.periodMs;
      return phase < (waveform.dutyCycle ?? 0.5) ? waveform.highPercent : waveform.lowPercent;
    }
  }
}

export class SyntheticLoadSampler implements LoadSampler {
  private readonly startMs: number;

  constructor(
    private readonly profile: SyntheticProfile,
    private readonly clock: MonotonicClock = systemClock,
  ) {
    this.startMs = clock.nowMs();
  }

  sample(): Promise<LoadSample> {
    const elapsedMs = this.clock.nowMs() - this.startMs;
    const memory = this.profile.memory ?? { shape: 'constant', percent: 0 };
    return Promise.resolve({
      cpuLoadRatio: clampRatio(waveformPercentAt(this.profile.cpu, elapsedMs) / 100),
      memLoadRatio: clampRatio(waveformPercentAt(memory, elapsedMs) / 100),
    });
  }
}
