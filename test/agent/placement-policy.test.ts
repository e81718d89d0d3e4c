import assert from 'node:assert/strict';

import fc from 'fast-check';

import { PlacementPolicy, type PlacementThresholds } from '../../agent/placement-policy.ts';
import type { EdgeShiftError } from '../../components/common/errors.ts';

const THRESHOLDS: PlacementThresholds = {
  highLoadBp: 8000,
  lowLoadBp: 5000,
  consecutiveSamples: 3,
  cooldownMs: 10_000,
};

const thresholdsArbitrary = fc
  .record({
    lowLoadBp: fc.integer({ min: 0, max: 9_000 }),
    gapBp: fc.integer({ min: 1, max: 5_000 }),
    consecutiveSamples: fc.integer({ min: 1, max: 10 }),
    cooldownMs: fc.integer({ min: 0, max: 60_000 }),
  })
  .map(({ lowLoadBp, gapBp, consecutiveSamples, cooldownMs }) => ({
    lowLoadBp,
    highLoadBp: Math.min(10_000, lowLoadBp + gapBp),
    consecutiveSamples,
    cooldownMs,
  }));

const loadBp = fc.integer({ min: 0, max: 10_000 });

describe('agent/placement-policy', () => {
  it('offloads at the K-th consecutive sample of overload while the peer has room', () => {
    const policy = new PlacementPolicy(THRESHOLDS);
    const decisions = [0, 100, 200].map(
      (nowMs) => policy.observe({ nowMs, localLoadBp: 9000, peerLoadBp: 2000 }).kind,
    );
    assert.deepEqual(decisions, ['stay', 'stay', 'offload'], 'stay twice, then offload on the third sample');
  });

  it('starts counting again after a sample that does not qualify', () => {
    const policy = new PlacementPolicy(THRESHOLDS);
    const loads = [9000, 9000, 7000, 9000, 9000, 9000];
    const decisions = loads.map(
      (localLoadBp, index) => policy.observe({ nowMs: index, localLoadBp, peerLoadBp: 1000 }).kind,
    );
    assert.deepEqual(decisions, ['stay', 'stay', 'stay', 'stay', 'stay', 'offload']);
  });

  it('decides nothing during the cool-down after a move', () => {
    const policy = new PlacementPolicy(THRESHOLDS);
    policy.recordMove(0);
    const during = [1000, 2000, 3000, 9_999].map(
      (nowMs) => policy.observe({ nowMs, localLoadBp: 9500, peerLoadBp: 0 }).kind,
    );
    assert.deepEqual(during, ['stay', 'stay', 'stay', 'stay'], 'no move within cooldownMs');
    const after = [10_000, 10_001, 10_002].map(
      (nowMs) => policy.observe({ nowMs, localLoadBp: 9500, peerLoadBp: 0 }).kind,
    );
    assert.deepEqual(after, ['stay', 'stay', 'offload'], 'K fresh samples after the cool-down');
  });

  it('refuses thresholds without hysteresis (low not below high)', () => {
    assert.throws(
      () => new PlacementPolicy({ ...THRESHOLDS, lowLoadBp: 8000 }),
      (err: EdgeShiftError) => err.code === 'ERR_CONFIG_INVALID' && /lowLoadBp \(8000\)/.test(err.message),
    );
  });

  it('never moves a service between two nodes whose loads differ by less than the hysteresis gap', () => {
    fc.assert(
      fc.property(
        thresholdsArbitrary,
        fc.array(fc.tuple(loadBp, fc.integer({ min: 0, max: 9_999 })), { maxLength: 300 }),
        (thresholds, samples) => {
          const policy = new PlacementPolicy(thresholds);
          const gap = thresholds.highLoadBp - thresholds.lowLoadBp;
          return samples.every(([load, offset], index) => {
            const peer = Math.min(10_000, Math.max(0, load + (offset % (2 * gap - 1)) - (gap - 1)));
            return (
              policy.observe({ nowMs: index * 100, localLoadBp: load, peerLoadBp: peer }).kind === 'stay'
            );
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('does not ping-pong: two nodes that move the service on each offload move it at most once per cool-down', () => {
    fc.assert(
      fc.property(
        thresholdsArbitrary,
        fc.array(fc.tuple(loadBp, loadBp, fc.integer({ min: 1, max: 2_000 })), { maxLength: 300 }),
        (thresholds, samples) => {
          const nodes = [new PlacementPolicy(thresholds), new PlacementPolicy(thresholds)];
          let owner = 0;
          let nowMs = 0;
          const moveTimes: number[] = [];
          for (const [loadA, loadB, stepMs] of samples) {
            nowMs += stepMs;
            const loads = [loadA, loadB];
            const decision = nodes[owner]!.observe({
              nowMs,
              localLoadBp: loads[owner]!,
              peerLoadBp: loads[1 - owner]!,
            });
            if (decision.kind !== 'offload') continue;
            moveTimes.push(nowMs);
            for (const node of nodes) node.recordMove(nowMs);
            owner = 1 - owner;
          }
          return moveTimes.every(
            (atMs, index) => index === 0 || atMs - moveTimes[index - 1]! >= thresholds.cooldownMs,
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
