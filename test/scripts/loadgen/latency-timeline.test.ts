import assert from 'node:assert/strict';
import { LatencyTimeline } from '../../../scripts/loadgen/latency-timeline.ts';
import { formatTimelineTable } from '../../../scripts/loadgen/timeline-table.ts';
import type { LoadReport } from '../../../scripts/loadgen/load-generator.ts';

describe('latency-timeline', () => {
  it('puts each request in the bucket of its scheduled time and measures from it', () => {
    const timeline = new LatencyTimeline(1000, 100);
    // Scheduled at 1050 (bucket 0) but sent at 1250 after a stall: charged 250 ms, not 50.
    timeline.recordSent(1050, 1250);
    timeline.recordReply({ scheduledAtMs: 1050, sentAtMs: 1250 }, 1300, 'node-a');
    timeline.recordSent(1210, 1250);
    timeline.recordFault('lost', 1210);
    const [first, second, third] = timeline.buckets();
    // HDR reports 250.111 ms for 250 ms (top of its sub-bucket); the summary clamps it to the maximum.
    assert.deepEqual(
      first,
      {
        startMs: 0,
        sent: 1,
        replied: 1,
        lost: 0,
        duplicates: 0,
        wrongState: 0,
        errors: 0,
        late: 0,
        p50Ms: 250,
        p99Ms: 250,
        maxMs: 250,
        nodes: { 'node-a': 1 },
      },
      'the stalled request stays in its scheduled bucket',
    );
    assert.equal(second?.sent, 0, 'an empty bucket in between is kept');
    assert.equal(third?.lost, 1);
    assert.equal(timeline.latencyFromScheduled.maxMs, 250, 'coordinated-omission-free latency');
    assert.equal(timeline.latencyFromSent.maxMs, 50, 'latency from the actual send');
    assert.equal(timeline.scheduleLag.maxMs, 200, 'the schedule lag is recorded');
    assert.deepEqual(timeline.totals, {
      sent: 2,
      replied: 1,
      lost: 1,
      duplicates: 0,
      wrongState: 0,
      errors: 0,
      late: 0,
    });
  });

  it('pools the latency of the requests scheduled within given ranges', () => {
    const timeline = new LatencyTimeline(0, 10);
    const reply = (scheduledAtMs: number, latencyMs: number): void =>
      timeline.recordReply({ scheduledAtMs, sentAtMs: scheduledAtMs }, scheduledAtMs + latencyMs, 'n');
    reply(5, 2); // bucket 0
    reply(15, 40); // bucket 1: a stall
    reply(25, 3); // bucket 2
    reply(35, 4); // bucket 3
    const stall = timeline.latencyWithin([{ startMs: 10, endMs: 20 }]);
    assert.deepEqual([stall.count, stall.maxMs], [1, 40], 'only the stalled bucket');
    const around = timeline.latencyWithin([
      { startMs: 0, endMs: 10 },
      { startMs: 20, endMs: 40 },
    ]);
    assert.deepEqual([around.count, around.maxMs], [3, 4], 'two ranges pooled, the stall left out');
    assert.equal(timeline.latencyWithin([]).count, 0);
  });

  it('formats the buckets as an aligned table', () => {
    const timeline = new LatencyTimeline(0, 100);
    timeline.recordSent(10, 10);
    timeline.recordReply({ scheduledAtMs: 10, sentAtMs: 10 }, 11.5, 'b');
    timeline.recordSent(150, 150);
    timeline.recordReply({ scheduledAtMs: 150, sentAtMs: 150 }, 400, 'a');
    timeline.recordFault('duplicates', 150);
    const report = { buckets: timeline.buckets() } as unknown as LoadReport;
    assert.equal(
      formatTimelineTable(report),
      [
        't_ms  sent  replied  lost  dup  wrong  err  p50_ms  p99_ms  max_ms  nodes',
        '   0     1        1     0    0      0    0    1.50    1.50    1.50  b:1',
        ' 100     1        1     0    1      0    0     250     250     250  a:1',
      ].join('\n'),
    );
  });
});
