import assert from 'node:assert/strict';
import { LoadGenerator } from '../../../scripts/loadgen/load-generator.ts';
import type { LoadGeneratorOptions, LoadReport } from '../../../scripts/loadgen/load-generator.ts';
import { counterStateChecker } from '../../../scripts/loadgen/reply-checker.ts';
import { hasErrorCode } from '../../../components/common/errors.ts';
import { startFaultInjectingServer } from './fault-injecting-udp-server.ts';
import type { FaultInjectingServer, ServerFaults } from './fault-injecting-udp-server.ts';

// 400 requests over 10 keys (40 per key) in 1 s: long enough for several buckets, short for the suite.
const BASE = {
  service: 'counter',
  rateHz: 400,
  durationMs: 1000,
  keyCount: 10,
  replyDeadlineMs: 1000,
  lingerMs: 100,
} as const;

describe('load-generator', function () {
  this.timeout(30_000);
  let server: FaultInjectingServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function runAgainst(
    faults: ServerFaults,
    options: Partial<LoadGeneratorOptions> = {},
  ): Promise<LoadReport> {
    server = await startFaultInjectingServer('node-a', faults);
    const generator = new LoadGenerator({
      ...BASE,
      target: { host: '127.0.0.1', port: server.port },
      checkState: counterStateChecker(),
      ...options,
    });
    return generator.run();
  }

  function faultTotals(report: LoadReport): Record<string, number> {
    const { lost, duplicates, wrongState, errors, late, unexpected, invalid } = report.totals;
    return { lost, duplicates, wrongState, errors, late, unexpected, invalid };
  }

  const NO_FAULTS = { lost: 0, duplicates: 0, wrongState: 0, errors: 0, late: 0, unexpected: 0, invalid: 0 };

  it('sends rate × duration requests with unique ids and reports a clean run as clean', async () => {
    const report = await runAgainst({});
    assert.equal(report.totals.sent, 400, 'open loop: exactly rate × duration requests');
    assert.equal(report.totals.replied, 400, 'every request answered once');
    assert.equal(server?.received(), 400, 'the server saw every request');
    assert.deepEqual(faultTotals(report), NO_FAULTS, 'no fault on a faultless server');
    assert.equal(report.stoppedEarly, false, 'the whole schedule ran');
    assert.deepEqual(report.nodes, { 'node-a': 400 }, 'the answering node is counted');
    assert.equal(report.buckets.length, 10, 'one bucket per 100 ms of schedule');
    assert.equal(
      report.buckets.reduce((sum, b) => sum + b.sent, 0),
      400,
      'buckets add up to the total',
    );
  });

  it('reports each reply the server drops as lost, and nothing else', async () => {
    const report = await runAgainst({ dropReplyOf: (n) => n % 50 === 7 });
    assert.deepEqual(faultTotals(report), { ...NO_FAULTS, lost: 8 }, 'ordinals 7, 57, ..., 357 are lost');
    assert.equal(report.totals.replied, 392);
    const lostIds = report.faults.filter((f) => f.kind === 'lost').map((f) => f.id?.split(':')[1]);
    assert.deepEqual(
      lostIds,
      ['7', '57', '107', '157', '207', '257', '307', '357'],
      'the lost requests are named',
    );
  });

  it('reports a second reply for one id as a duplicate without counting it as a reply', async () => {
    const report = await runAgainst({ duplicateReplyOf: (n) => n % 40 === 3 });
    assert.deepEqual(
      faultTotals(report),
      { ...NO_FAULTS, duplicates: 10 },
      'ordinals 3, 43, ..., 363 doubled',
    );
    assert.equal(report.totals.replied, 400, 'a duplicate is not a second reply');
  });

  it('reports wrong state from the request a server counts twice onward, for that key only', async () => {
    // Ordinal 123 is key sensor-3's 12th request (keyIndex 12): its reply and the 27 later ones of
    // that key carry a count one too high; other keys stay right.
    const report = await runAgainst({ countTwiceOf: (n) => n === 123 });
    assert.deepEqual(
      faultTotals(report),
      { ...NO_FAULTS, wrongState: 28 },
      '40 - 12 replies of sensor-3 are wrong',
    );
    const wrong = report.faults.filter((f) => f.kind === 'wrongState');
    assert.ok(
      wrong.every((f) => f.key === 'sensor-3'),
      'only the key counted twice is wrong',
    );
    assert.equal(
      wrong[0]?.detail,
      'key sensor-3: count 14, expected 13',
      'the first wrong reply says what was expected',
    );
  });

  it('keeps sending on schedule through a 300 ms server stall, which shows as latency', async () => {
    const report = await runAgainst(
      { stall: { afterMs: 300, durationMs: 300 } },
      { rateHz: 200, durationMs: 1500, replyDeadlineMs: 2000 },
    );
    assert.equal(report.totals.sent, 300, 'the stall does not reduce the number of requests sent');
    assert.deepEqual(faultTotals(report), NO_FAULTS, 'held replies are slow, not lost (deadline 2 s)');
    assert.ok(
      report.latency.fromScheduled.maxMs >= 250,
      `stall visible as latency: max ${report.latency.fromScheduled.maxMs} ms`,
    );
    const stalledBucket = report.buckets[3];
    assert.ok(
      (stalledBucket?.p99Ms ?? 0) >= 150,
      `bucket 300-400 ms carries the stall: p99 ${stalledBucket?.p99Ms} ms`,
    );
  });

  it('charges its own event-loop stall to the requests it delays (latency from the scheduled time)', async () => {
    server = await startFaultInjectingServer('node-a');
    const generator = new LoadGenerator({
      ...BASE,
      rateHz: 200,
      durationMs: 1000,
      target: { host: '127.0.0.1', port: server.port },
    });
    const running = generator.run();
    generator.mark('run called');
    await new Promise((resolve) => setTimeout(resolve, 300));
    generator.mark('event loop blocked');
    const blockUntil = performance.now() + 300;
    while (performance.now() < blockUntil) {
      // Block the event loop on purpose: the generator cannot send during this time.
    }
    const report = await running;
    assert.equal(report.totals.sent, 200, 'the backlog is sent after the stall, not skipped');
    assert.ok(report.scheduleLag.maxMs >= 250, `requests left late: lag ${report.scheduleLag.maxMs} ms`);
    assert.ok(
      report.latency.fromScheduled.maxMs >= 250,
      `their latency counts from the schedule: ${report.latency.fromScheduled.maxMs} ms`,
    );
    assert.deepEqual(
      report.markers.map((m) => m.label),
      ['run called', 'event loop blocked'],
      'marks are reported in order, including one taken before the first send',
    );
    assert.ok(
      (report.markers[0]?.atMs ?? 1) <= 0,
      `a mark before the start sits at or before 0: ${report.markers[0]?.atMs} ms`,
    );
    assert.ok(
      (report.markers[1]?.atMs ?? 0) >= 250,
      `marked on the run's axis: ${report.markers[1]?.atMs} ms`,
    );
  });

  it('stops sending when its signal is aborted and still waits for the replies already due', async () => {
    server = await startFaultInjectingServer('node-a');
    const controller = new AbortController();
    const generator = new LoadGenerator({
      ...BASE,
      rateHz: 200,
      durationMs: 10_000,
      target: { host: '127.0.0.1', port: server.port },
      checkState: counterStateChecker(),
      signal: controller.signal,
    });
    const running = generator.run();
    setTimeout(() => controller.abort(), 500);
    const report = await running;
    assert.equal(report.stoppedEarly, true, 'the report says the schedule was cut short');
    assert.ok(
      report.totals.sent > 0 && report.totals.sent < 2000,
      `about 100 of 2000 sent: ${report.totals.sent}`,
    );
    assert.equal(report.totals.replied, report.totals.sent, 'every sent request was answered');
    assert.equal(server.received(), report.totals.sent, 'nothing was sent after the abort');
    assert.equal(report.totals.lost, 0, 'requests never sent are not lost');
  });

  it('refuses a non-positive rate with ERR_LOADGEN_INVALID_OPTION', () => {
    assert.throws(
      () => new LoadGenerator({ ...BASE, rateHz: 0, target: { host: '127.0.0.1', port: 9 } }),
      (err: unknown) =>
        hasErrorCode(err, 'ERR_LOADGEN_INVALID_OPTION') && /rateHz/.test((err as Error).message),
    );
  });
});
