import assert from 'node:assert/strict';

import { Ewma, ewmaAlpha, ratioToBasisPoints } from '../../../components/node-monitor/ewma.ts';

describe('components/node-monitor/ewma', () => {
  describe('ewmaAlpha', () => {
    it('is 1 - e^-1 when the interval equals the time constant', () => {
      assert.equal(ewmaAlpha(500, 500), 1 - Math.exp(-1));
    });

    it('gives the same smoothing in seconds whatever the period', () => {
      // Ten 50 ms steps must weigh the old value as much as five 100 ms steps.
      const keptAt50Ms = (1 - ewmaAlpha(50, 400)) ** 10;
      const keptAt100Ms = (1 - ewmaAlpha(100, 400)) ** 5;
      assert.ok(Math.abs(keptAt50Ms - keptAt100Ms) < 1e-12, `${keptAt50Ms} vs ${keptAt100Ms}`);
    });

    it('takes the new sample as is when the time constant is 0', () => {
      assert.equal(ewmaAlpha(100, 0), 1);
    });
  });

  describe('Ewma', () => {
    it('starts at the first sample, then moves by alpha towards each new one', () => {
      const ewma = new Ewma(100);
      assert.equal(ewma.value, undefined, 'no value before the first sample');
      assert.equal(ewma.update(0.2, 100), 0.2, 'first sample taken as is');
      const expected = 0.2 + (1 - Math.exp(-1)) * (1 - 0.2);
      assert.equal(ewma.update(1, 100), expected);
    });

    it('weighs a sample after a skipped tick more', () => {
      const punctual = new Ewma(500);
      const late = new Ewma(500);
      punctual.update(0, 100);
      late.update(0, 100);
      assert.ok(late.update(1, 300) > punctual.update(1, 100), 'a 300 ms interval moves further than 100 ms');
    });
  });

  describe('ratioToBasisPoints', () => {
    const cases: readonly [number, number][] = [
      [0, 0],
      [0.5, 5000],
      [0.12345, 1235],
      [1, 10000],
      [1.7, 10000],
      [-0.2, 0],
      [Number.NaN, 0],
    ];
    for (const [ratio, basisPoints] of cases) {
      it(`maps ${ratio} to ${basisPoints}`, () => {
        assert.equal(ratioToBasisPoints(ratio), basisPoints, 'rounded and clamped to 0..10000');
      });
    }
  });
});
