import assert from 'node:assert/strict';

import { hasErrorCode } from '../../../components/common/errors.ts';
import { LoadGeneratorWorker } from '../../../scripts/loadgen/load-generator-worker.ts';
import { startFaultInjectingServer, type FaultInjectingServer } from './fault-injecting-udp-server.ts';

describe('load-generator-worker', function () {
  this.timeout(30_000);
  let server: FaultInjectingServer | undefined;
  let worker: LoadGeneratorWorker | undefined;

  afterEach(async () => {
    await worker?.close();
    await server?.close();
    worker = undefined;
    server = undefined;
  });

  it('runs on its own thread, takes marks and a stop, and answers latency queries', async () => {
    // Request 30 is counted twice: the counter check must run on the thread too.
    server = await startFaultInjectingServer('node-a', { countTwiceOf: (ordinal) => ordinal === 30 });
    worker = LoadGeneratorWorker.start({
      target: { host: '127.0.0.1', port: server.port },
      service: 'counter',
      rateHz: 200,
      durationMs: 60_000,
      keyCount: 5,
      bucketMs: 20,
      replyDeadlineMs: 1000,
      lingerMs: 50,
      counterState: {},
    });
    // The thread loads its modules first (a few hundred ms), then starts sending.
    await new Promise((resolve) => setTimeout(resolve, 800));
    worker.mark('start of a window');
    await new Promise((resolve) => setTimeout(resolve, 300));
    worker.mark('end of a window');
    worker.stop();
    const report = await worker.report;
    assert.equal(report.stoppedEarly, true, 'stop() ended the schedule');
    assert.ok(report.totals.sent > 60, `${report.totals.sent} requests sent`);
    assert.equal(report.totals.replied, report.totals.sent, 'every request answered');
    assert.ok(report.totals.wrongState > 0, 'the double count shows as wrong state');
    assert.deepEqual(
      report.markers.map((marker) => marker.label),
      ['start of a window', 'end of a window'],
    );
    const [start, end] = report.markers.map((marker) => marker.atMs) as [number, number];
    const inWindow = await worker.latencyWithin([{ startMs: start, endMs: end }]);
    const all = await worker.latencyWithin([{ startMs: 0, endMs: report.buckets.length * report.bucketMs }]);
    assert.ok(
      inWindow.count > 20 && inWindow.count < all.count,
      `${inWindow.count} of ${all.count} in the window`,
    );
  });

  it('reports an invalid option as the thread failing, with the reason', async () => {
    worker = LoadGeneratorWorker.start({
      target: { host: '127.0.0.1', port: 9 },
      service: 'counter',
      rateHz: 0,
      durationMs: 1000,
      keyCount: 1,
    });
    await assert.rejects(
      worker.report,
      (err) =>
        hasErrorCode(err, 'ERR_LOADGEN_THREAD') &&
        /rateHz must be a positive number/.test((err as Error).message),
    );
  });
});
