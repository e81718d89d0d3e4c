import assert from 'node:assert/strict';

import {
  SyntheticLoadSampler,
  waveformPercentAt,
  type Waveform,
} from '../../../components/node-monitor/synthetic-sampler.ts';
import { FakeTime } from './fake-time.ts';

describe('components/node-monitor/synthetic-sampler', () => {
  describe('waveformPercentAt', () => {
    const cases: readonly { name: string; waveform: Waveform; atMs: number; percent: number }[] = [
      { name: 'constant', waveform: { shape: 'constant', percent: 42 }, atMs: 12_345, percent: 42 },
      {
        name: 'steps, second step',
        waveform: {
          shape: 'steps',
          steps: [
            { durationMs: 1000, percent: 10 },
            { durationMs: 500, percent: 90 },
          ],
        },
        atMs: 1200,
        percent: 90,
      },
      {
        name: 'steps, repeating',
        waveform: {
          shape: 'steps',
          steps: [
            { durationMs: 1000, percent: 10 },
            { durationMs: 500, percent: 90 },
          ],
        },
        atMs: 1600,
        percent: 10,
      },
      {
        name: 'steps, holding the last step',
        waveform: {
          shape: 'steps',
          repeat: false,
          steps: [
            { durationMs: 1000, percent: 10 },
            { durationMs: 500, percent: 90 },
          ],
        },
        atMs: 1600,
        percent: 90,
      },
      {
        name: 'ramp, midway',
        waveform: { shape: 'ramp', fromPercent: 20, toPercent: 80, durationMs: 1000 },
        atMs: 500,
        percent: 50,
      },
      {
        name: 'ramp, after its end',
        waveform: { shape: 'ramp', fromPercent: 20, toPercent: 80, durationMs: 1000 },
        atMs: 5000,
        percent: 80,
      },
      {
        name: 'sine, quarter period',
        waveform: { shape: 'sine', meanPercent: 50, amplitudePercent: 30, periodMs: 4000 },
        atMs: 1000,
        percent: 80,
      },
      {
        name: 'square, high part',
        waveform: { shape: 'square', lowPercent: 5, highPercent: 95, periodMs: 1000, dutyCycle: 0.25 },
        atMs: 2100,
        percent: 95,
      },
      {
        name: 'square, low part',
        waveform: { shape: 'square', lowPercent: 5, highPercent: 95, periodMs: 1000, dutyCycle: 0.25 },
        atMs: 2300,
        percent: 5,
      },
    ];
    for (const { name, waveform, atMs, percent } of cases) {
      it(`${name} at ${atMs} ms is ${percent} %`, () => {
        assert.ok(
          Math.abs(waveformPercentAt(waveform, atMs) - percent) < 1e-9,
          `got ${waveformPercentAt(waveform, atMs)}`,
        );
      });
    }
  });

  describe('SyntheticLoadSampler', () => {
    it('follows the profile from its creation time and clamps to 0..1', async () => {
      const time = new FakeTime(5000);
      const sampler = new SyntheticLoadSampler(
        {
          cpu: { shape: 'ramp', fromPercent: 0, toPercent: 100, durationMs: 1000 },
          memory: { shape: 'sine', meanPercent: 90, amplitudePercent: 50, periodMs: 4000 },
        },
        time,
      );
      assert.deepEqual(await sampler.sample(), { cpuLoadRatio: 0, memLoadRatio: 0.9 }, 'at the start');
      time.advance(1000);
      assert.deepEqual(
        await sampler.sample(),
        { cpuLoadRatio: 1, memLoadRatio: 1 },
        'memory 140 % is clamped to 1',
      );
    });

    it('reports no memory load when the profile has none', async () => {
      const sampler = new SyntheticLoadSampler({ cpu: { shape: 'constant', percent: 30 } }, new FakeTime());
      assert.deepEqual(await sampler.sample(), { cpuLoadRatio: 0.3, memLoadRatio: 0 });
    });
  });
});
