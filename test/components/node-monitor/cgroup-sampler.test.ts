import assert from 'node:assert/strict';
import { join } from 'node:path';

import { hasErrorCode } from '../../../components/common/errors.ts';
import {
  CgroupLoadSampler,
  parseCpuMax,
  parseMemoryMax,
  workingSetBytes,
} from '../../../components/node-monitor/cgroup-sampler.ts';
import { FakeTime } from './fake-time.ts';
import { FIXTURE_ROOT, StagedFixture } from './fixtures.ts';

const GIB = 1024 ** 3;

describe('components/node-monitor/cgroup-sampler', () => {
  let staged: StagedFixture;
  let time: FakeTime;

  beforeEach(async () => {
    staged = await StagedFixture.create();
    time = new FakeTime();
  });

  afterEach(async () => {
    await staged.remove();
  });

  describe('parseCpuMax', () => {
    const cases: readonly { input: string | undefined; cpus: number }[] = [
      { input: '50000 100000\n', cpus: 0.5 },
      { input: '200000 100000\n', cpus: 2 },
      { input: '800000 100000\n', cpus: 4 },
      { input: 'max 100000\n', cpus: 4 },
      { input: undefined, cpus: 4 },
    ];
    for (const { input, cpus } of cases) {
      it(`reads ${JSON.stringify(input)} as ${cpus} CPUs of a 4-CPU host`, () => {
        assert.equal(parseCpuMax(input, 'cpu.max', 4), cpus, 'quota/period, capped at the host CPUs');
      });
    }

    it('rejects a zero period', () => {
      assert.throws(
        () => parseCpuMax('100 0', 'cpu.max', 4),
        (err) => hasErrorCode(err, 'ERR_MONITOR_SOURCE_MALFORMED'),
      );
    });
  });

  describe('parseMemoryMax', () => {
    it('uses host memory for "max" and for a limit above it', () => {
      assert.equal(parseMemoryMax('max\n', 'memory.max', 4 * GIB), 4 * GIB);
      assert.equal(parseMemoryMax(`${8 * GIB}\n`, 'memory.max', 4 * GIB), 4 * GIB);
    });
  });

  describe('workingSetBytes', () => {
    it('subtracts inactive_file from memory.current', () => {
      assert.equal(workingSetBytes(1000, 'anon 600\nfile 400\ninactive_file 300\n', 'memory.stat'), 700);
    });

    it('is memory.current without memory.stat', () => {
      assert.equal(workingSetBytes(1000, undefined, 'memory.stat'), 1000);
    });
  });

  describe('CgroupLoadSampler', () => {
    it('computes CPU from usage_usec against the cpu.max quota and memory against memory.max', async () => {
      await staged.use('cgroup-quota-t0');
      const sampler = new CgroupLoadSampler(staged.path, {
        clock: time,
        hostCpuCount: 4,
        hostMemoryBytes: 8 * GIB,
      });
      assert.deepEqual(
        await sampler.sample(),
        { cpuLoadRatio: null, memLoadRatio: 0.1875 },
        '256 MiB less 64 MiB inactive_file, of 1 GiB',
      );
      await staged.use('cgroup-quota-t1');
      time.advance(100);
      // 25 ms of CPU in 100 ms with a quota of half a CPU.
      assert.deepEqual(
        await sampler.sample(),
        { cpuLoadRatio: 0.5, memLoadRatio: 0.4375 },
        '(512 - 64) MiB of 1 GiB',
      );
    });

    it('uses every host CPU and host memory when the cgroup has no limits', async () => {
      await staged.use('cgroup-unlimited-t0');
      const sampler = new CgroupLoadSampler(staged.path, {
        clock: time,
        hostCpuCount: 4,
        hostMemoryBytes: 4 * GIB,
      });
      await sampler.sample();
      await staged.use('cgroup-unlimited-t1');
      time.advance(100);
      // 100 ms of CPU in 100 ms on 4 CPUs; 256 MiB of 4 GiB.
      assert.deepEqual(await sampler.sample(), { cpuLoadRatio: 0.25, memLoadRatio: 0.0625 });
    });

    it('treats missing cpu.max and memory.max (the root cgroup) as no limit', async () => {
      const sampler = new CgroupLoadSampler(join(FIXTURE_ROOT, 'cgroup-root'), {
        clock: time,
        hostCpuCount: 2,
        hostMemoryBytes: 4 * GIB,
      });
      assert.deepEqual(await sampler.sample(), { cpuLoadRatio: null, memLoadRatio: 0.25 });
    });

    it('holds (null) when usage_usec went backwards', async () => {
      await staged.use('cgroup-unlimited-t1');
      const sampler = new CgroupLoadSampler(staged.path, {
        clock: time,
        hostCpuCount: 4,
        hostMemoryBytes: 4 * GIB,
      });
      await sampler.sample();
      await staged.use('cgroup-unlimited-t0');
      time.advance(100);
      assert.equal((await sampler.sample()).cpuLoadRatio, null, 'a counter reset gives no ratio');
    });

    it('fails with ERR_MONITOR_SOURCE_UNREADABLE on a cgroup v1 directory, naming cpu.stat', async () => {
      const v1 = join(FIXTURE_ROOT, 'cgroup-v1');
      await assert.rejects(
        new CgroupLoadSampler(v1, { clock: time }).sample(),
        (err: Error) =>
          hasErrorCode(err, 'ERR_MONITOR_SOURCE_UNREADABLE') && err.message.includes(join(v1, 'cpu.stat')),
      );
    });
  });
});
