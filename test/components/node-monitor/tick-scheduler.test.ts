import assert from 'node:assert/strict';

import { TickScheduler } from '../../../components/node-monitor/tick-scheduler.ts';
import { FakeTime } from './fake-time.ts';

interface Harness {
  readonly time: FakeTime;
  readonly scheduler: TickScheduler;
  readonly tickTimesMs: number[];
  /** Resolves the work of every running tick. */
  finishWork(): Promise<void>;
}

function createHarness(options: { holdWork?: boolean } = {}): Harness {
  const time = new FakeTime(0);
  const tickTimesMs: number[] = [];
  let release: (() => void)[] = [];
  const scheduler = new TickScheduler({
    periodMs: 100,
    clock: time,
    timer: time,
    onTick: () => {
      tickTimesMs.push(time.nowMs());
      if (options.holdWork !== true) return Promise.resolve();
      return new Promise<void>((resolve) => release.push(resolve));
    },
    onError: (err) => assert.fail(`unexpected tick error ${String(err)}`),
  });
  return {
    time,
    scheduler,
    tickTimesMs,
    finishWork: async () => {
      for (const resolve of release) resolve();
      release = [];
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

describe('components/node-monitor/tick-scheduler', () => {
  it('ticks once per period on the absolute grid', async () => {
    const { time, scheduler, tickTimesMs } = createHarness();
    scheduler.start();
    await time.advanceSettling(300);
    assert.deepEqual(tickTimesMs, [100, 200, 300]);
    assert.equal(scheduler.stats.ticks, 3);
  });

  it('corrects drift: a late timer does not push the next tick back', () => {
    const { time, scheduler, tickTimesMs } = createHarness();
    scheduler.start();
    time.jump(130);
    assert.deepEqual(tickTimesMs, [130], 'the first tick ran 30 ms late');
    assert.equal(time.nextDueMs(), 200, 'the next tick stays due at 200 ms, not 230 ms');
  });

  it('skips and counts the ticks missed while the event loop was blocked, without a burst', () => {
    const { time, scheduler, tickTimesMs } = createHarness();
    scheduler.start();
    time.jump(350);
    assert.deepEqual(tickTimesMs, [350], 'one tick, not three');
    assert.equal(scheduler.stats.missedTicks, 2, 'the ticks due at 200 and 300 ms were skipped');
    assert.equal(time.nextDueMs(), 400);
  });

  it('skips and counts a tick whose predecessor is still working, never overlapping', async () => {
    const harness = createHarness({ holdWork: true });
    harness.scheduler.start();
    harness.time.advance(300);
    assert.deepEqual(harness.tickTimesMs, [100], 'ticks at 200 and 300 ms found the work at 100 ms running');
    assert.equal(harness.scheduler.stats.overlappedTicks, 2);
    await harness.finishWork();
    harness.time.advance(100);
    assert.deepEqual(harness.tickTimesMs, [100, 400], 'ticking resumes once the work finished');
  });

  it('applies a new period from now on', async () => {
    const { time, scheduler, tickTimesMs } = createHarness();
    scheduler.start();
    await time.advanceSettling(150);
    scheduler.setPeriodMs(40);
    await time.advanceSettling(100);
    assert.deepEqual(tickTimesMs, [100, 190, 230]);
  });

  it('stops ticking after stop()', () => {
    const { time, scheduler, tickTimesMs } = createHarness();
    scheduler.start();
    scheduler.stop();
    time.advance(1000);
    assert.deepEqual(tickTimesMs, [], 'no tick after stop');
    assert.equal(time.nextDueMs(), undefined, 'no timer left behind');
  });
});
