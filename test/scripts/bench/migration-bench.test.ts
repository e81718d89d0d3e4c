import assert from 'node:assert/strict';

import { schedPerMove, windowsOf, type SchedReading } from '../../../scripts/bench/migration.bench.ts';

/**
 * A reading at `atMs` where the agents had used `agentMs` of CPU and the function hosts `hostMs` so far;
 * the function hosts had waited for a core half as long as they ran, the test bed a tenth.
 */
const reading = (atMs: number, agentMs: number, hostMs: number): SchedReading => ({
  atMs,
  times: {
    Agent: { cpuMs: agentMs, waitMs: 0 },
    FunctionHost: { cpuMs: hostMs, waitMs: hostMs / 2 },
    TestBed: { cpuMs: atMs / 10, waitMs: atMs / 10 },
  },
});

describe('scripts/bench/migration.bench', () => {
  it('charges a move with what it used beyond the rate between moves, from the first warm move on', () => {
    // Between moves: agents 0.01 ms and function hosts 0.2 ms of CPU per ms. Each move lasts 100 ms;
    // the cold one (index 0) costs the agents 90 ms, the warm ones 41 and 61 ms, the hosts 40 ms each.
    const readings = [
      reading(0, 0, 0),
      reading(100, 90, 40),
      reading(1100, 100, 240),
      reading(1200, 141, 280),
      reading(2200, 151, 480),
      reading(2300, 212, 520),
      reading(3300, 222, 720),
    ];
    const perMove = schedPerMove(readings, 1);
    const near = (actual: number, expected: number, what: string): void =>
      assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual}, expected ${expected}`);
    near(perMove.Agent.cpuMs, 51 - 1, 'agents');
    near(perMove.FunctionHost.cpuMs, 40 - 20, 'hosts');
    near(perMove.FunctionHost.waitMs, (40 - 20) / 2, 'hosts waiting');
    near(perMove.TestBed.cpuMs, 0, 'a steady rate is no cost');
  });

  it('charges nothing when no warm move ran', () => {
    const none = { cpuMs: 0, waitMs: 0 };
    assert.deepEqual(schedPerMove([reading(0, 0, 0), reading(100, 50, 50), reading(1100, 60, 60)], 1), {
      Agent: none,
      FunctionHost: none,
      TestBed: none,
    });
  });

  it('tells the moves from the sham windows by their markers', () => {
    const markers = [
      { atMs: 100, label: 'move to node-b' },
      { atMs: 350, label: 'node-b owns' },
      { atMs: 850, label: 'sham' },
      { atMs: 1100, label: 'sham end' },
      { atMs: 2400, label: 'move to node-a' },
      { atMs: 2600, label: 'node-a owns' },
    ];
    assert.deepEqual(windowsOf(markers), {
      moveWindows: [
        { startMs: 100, endMs: 350 },
        { startMs: 2400, endMs: 2600 },
      ],
      shamWindows: [{ startMs: 850, endMs: 1100 }],
    });
  });
});
