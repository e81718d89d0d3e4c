import assert from 'node:assert/strict';
import {
  createSchedule,
  dueRequestCount,
  scheduledSendTimeMs,
} from '../../../scripts/loadgen/open-loop-schedule.ts';

describe('open-loop-schedule', () => {
  const schedule = createSchedule(1000, 200, 1000); // 200 Hz for 1 s from t=1000 ms: one request every 5 ms

  it('plans rate × duration requests', () => {
    assert.equal(schedule.totalRequests, 200);
    assert.equal(createSchedule(0, 3, 1000).totalRequests, 3);
  });

  it('spaces scheduled send times by 1 / rate', () => {
    assert.deepEqual(
      [0, 1, 2, 199].map((i) => scheduledSendTimeMs(schedule, i)),
      [1000, 1005, 1010, 1995],
    );
  });

  const dueCases: Array<[number, number, string]> = [
    [999, 0, 'before the start'],
    [1000, 1, 'the first request is due at the start'],
    [1004.9, 1, 'the second is not due before its time'],
    [1005, 2, 'the second is due at its time'],
    [1300, 61, 'a late look sends the whole backlog'],
    [5000, 200, 'never more than planned'],
  ];
  for (const [nowMs, expected, why] of dueCases) {
    it(`has ${expected} requests due at ${nowMs} ms (${why})`, () => {
      assert.equal(dueRequestCount(schedule, nowMs), expected, why);
    });
  }
});
