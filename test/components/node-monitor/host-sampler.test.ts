import assert from 'node:assert/strict';
import { join } from 'node:path';

import { hasErrorCode } from '../../../components/common/errors.ts';
import {
  cpuRatioBetween,
  HostLoadSampler,
  parseMeminfo,
  parseProcStat,
} from '../../../components/node-monitor/host-sampler.ts';
import { FIXTURE_ROOT, StagedFixture } from './fixtures.ts';

describe('components/node-monitor/host-sampler', () => {
  let staged: StagedFixture;

  beforeEach(async () => {
    staged = await StagedFixture.create();
  });

  afterEach(async () => {
    await staged.remove();
  });

  describe('parseProcStat', () => {
    it('counts idle and iowait as idle and leaves guest time out of the total', () => {
      const times = parseProcStat('cpu  1600 0 700 8600 600 0 100 0 50 0\ncpu0 1 2 3 4\n', 'stat');
      assert.deepEqual(times, { busyJiffies: 2400, totalJiffies: 11600 }, 'guest 50 is already in user');
    });

    it('accepts the four counters of old kernels', () => {
      assert.deepEqual(parseProcStat('cpu 3 0 1 6\n', 'stat'), { busyJiffies: 4, totalJiffies: 10 });
    });

    it('rejects a file without the aggregate cpu line, naming the path', () => {
      assert.throws(
        () => parseProcStat('cpu0 1 2 3 4\n', '/proc/stat'),
        (err: Error) =>
          hasErrorCode(err, 'ERR_MONITOR_SOURCE_MALFORMED') && err.message.includes('/proc/stat'),
      );
    });
  });

  describe('parseMeminfo', () => {
    it('is 1 - MemAvailable/MemTotal', () => {
      assert.equal(
        parseMeminfo('MemTotal: 1000 kB\nMemFree: 10 kB\nMemAvailable: 250 kB\n', 'meminfo'),
        0.75,
      );
    });
  });

  describe('cpuRatioBetween', () => {
    it('is null when the counters went backwards (wrap or reset)', () => {
      const before = { busyJiffies: 100, totalJiffies: 1000 };
      assert.equal(cpuRatioBetween(before, { busyJiffies: 5, totalJiffies: 50 }), null);
    });

    it('is null when no time passed', () => {
      const same = { busyJiffies: 100, totalJiffies: 1000 };
      assert.equal(cpuRatioBetween(same, same), null);
    });
  });

  describe('HostLoadSampler', () => {
    it('has no CPU ratio on the first sample and memory from meminfo', async () => {
      await staged.use('proc-t0');
      const sample = await new HostLoadSampler(staged.path).sample();
      assert.deepEqual(
        sample,
        { cpuLoadRatio: null, memLoadRatio: 0.25 },
        'no interval yet; 1 - 12000000/16000000',
      );
    });

    it('computes CPU from the jiffies between two samples', async () => {
      await staged.use('proc-t0');
      const sampler = new HostLoadSampler(staged.path);
      await sampler.sample();
      await staged.use('proc-t1');
      const sample = await sampler.sample();
      // busy +900 (user 600, system 200, softirq 100) of total +1600 (idle 600, iowait 100 added).
      assert.deepEqual(sample, { cpuLoadRatio: 900 / 1600, memLoadRatio: 0.75 });
    });

    it('holds (null) over a counter wrap and measures again from the new baseline', async () => {
      await staged.use('proc-t1');
      const sampler = new HostLoadSampler(staged.path);
      await sampler.sample();
      await staged.use('proc-wrapped');
      assert.equal((await sampler.sample()).cpuLoadRatio, null, 'counters went backwards: no ratio');
      await staged.use('proc-t0');
      const recovered = await sampler.sample();
      assert.equal(recovered.cpuLoadRatio, (1500 - 15) / (10000 - 100), 'measured from the wrapped baseline');
    });

    it('fails with ERR_MONITOR_SOURCE_UNREADABLE naming a missing file', async () => {
      const missing = join(FIXTURE_ROOT, 'no-such-proc');
      await assert.rejects(
        new HostLoadSampler(missing).sample(),
        (err: Error) =>
          hasErrorCode(err, 'ERR_MONITOR_SOURCE_UNREADABLE') && err.message.includes(join(missing, 'stat')),
      );
    });

    it('fails with ERR_MONITOR_SOURCE_MALFORMED when MemAvailable is missing', async () => {
      await assert.rejects(
        new HostLoadSampler(join(FIXTURE_ROOT, 'proc-old-kernel')).sample(),
        (err: Error) =>
          hasErrorCode(err, 'ERR_MONITOR_SOURCE_MALFORMED') && err.message.includes('MemAvailable'),
      );
    });

    it('fails with ERR_MONITOR_SOURCE_MALFORMED on a counter that is not a number', async () => {
      await assert.rejects(
        new HostLoadSampler(join(FIXTURE_ROOT, 'proc-garbled')).sample(),
        (err: Error) =>
          hasErrorCode(err, 'ERR_MONITOR_SOURCE_MALFORMED') && err.message.includes('cpu system'),
      );
    });

    it('reads the real /proc of this machine', async () => {
      const sampler = new HostLoadSampler();
      await sampler.sample();
      const sample = await sampler.sample();
      assert.ok(sample.memLoadRatio > 0 && sample.memLoadRatio < 1, `memory ratio ${sample.memLoadRatio}`);
    });
  });
});
