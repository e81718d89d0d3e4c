import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  baselineOf,
  computeRatios,
  formatResultsTable,
  median,
  runBenchmark,
  summarizeRuns,
  toBenchmark,
  writeResultJson,
} from '../../../scripts/bench/harness.ts';
import type { Benchmark, BenchmarkContext } from '../../../scripts/bench/harness.ts';
import { hasErrorCode } from '../../../components/common/errors.ts';

describe('harness', () => {
  describe('median', () => {
    const cases: Array<[number[], number]> = [
      [[3], 3],
      [[5, 1, 3], 3],
      [[4, 1, 3, 2], 2.5],
      [[10, 10, 1, 1000, 10], 10],
    ];
    for (const [values, expected] of cases) {
      it(`is ${expected} for [${values.join(', ')}]`, () => {
        assert.equal(median(values), expected);
      });
    }

    it('is NaN for no values, so an empty metric cannot pass for zero', () => {
      assert.ok(Number.isNaN(median([])));
    });
  });

  describe('summarizeRuns', () => {
    it('gives median, min and max per metric over the runs that have it', () => {
      const stats = summarizeRuns([{ p99Ms: 3, lost: 0 }, { p99Ms: 1 }, { p99Ms: 2, lost: 4 }]);
      assert.deepEqual(stats, { lost: { median: 2, min: 0, max: 4 }, p99Ms: { median: 2, min: 1, max: 3 } });
    });
  });

  describe('computeRatios', () => {
    const metrics = summarizeRuns([{ relayP99Ms: 3 }, { relayP99Ms: 6 }, { relayP99Ms: 4.5 }]);

    it('divides the own median by the baseline median', () => {
      assert.deepEqual(
        computeRatios(metrics, { echoP99Ms: 1.5 }, { relayOverEcho: ['relayP99Ms', 'echoP99Ms'] }),
        { relayOverEcho: 3 },
      );
    });

    it('leaves out a ratio whose metric or baseline is missing or zero', () => {
      const ratios = computeRatios(
        metrics,
        { echoP99Ms: 0 },
        {
          zeroBaseline: ['relayP99Ms', 'echoP99Ms'],
          noBaseline: ['relayP99Ms', 'absentMs'],
          noMetric: ['absentMs', 'echoP99Ms'],
        },
      );
      assert.deepEqual(ratios, {}, 'no ratio is invented');
    });
  });

  describe('runBenchmark', () => {
    it('runs the benchmark repeat times with the run index, the baseline, and reports medians and ratios', async () => {
      const seen: BenchmarkContext[] = [];
      const values = [7, 3, 5];
      const benchmark: Benchmark = {
        name: 'fake',
        description: 'returns canned values',
        ratios: { overBase: ['latencyMs', 'baseMs'] },
        run: (context) => {
          seen.push(context);
          return Promise.resolve({ latencyMs: values[context.runIndex] ?? 0 });
        },
      };
      const result = await runBenchmark(benchmark, { repeat: 3, isQuick: true, baseline: { baseMs: 2 } });
      assert.deepEqual(
        seen.map((c) => [c.runIndex, c.isQuick, c.baseline.baseMs]),
        [
          [0, true, 2],
          [1, true, 2],
          [2, true, 2],
        ],
        'three runs in order, each told the baseline',
      );
      assert.deepEqual(result.metrics, { latencyMs: { median: 5, min: 3, max: 7 } });
      assert.deepEqual(result.ratios, { overBase: 2.5 });
      assert.deepEqual(baselineOf(result), { latencyMs: 5 }, 'medians become the next baseline');
    });

    it('refuses a run that returns a non-number with ERR_BENCH_INVALID_MODULE', async () => {
      const benchmark = {
        name: 'bad',
        description: '',
        run: () => Promise.resolve({ latencyMs: '3' }),
      } as unknown as Benchmark;
      await assert.rejects(runBenchmark(benchmark, { repeat: 1, isQuick: true }), (err: unknown) =>
        hasErrorCode(err, 'ERR_BENCH_INVALID_MODULE'),
      );
    });

    it('refuses repeat 0 with ERR_LOADGEN_INVALID_OPTION', async () => {
      const benchmark: Benchmark = { name: 'fake', description: '', run: () => Promise.resolve({}) };
      await assert.rejects(runBenchmark(benchmark, { repeat: 0, isQuick: true }), (err: unknown) =>
        hasErrorCode(err, 'ERR_LOADGEN_INVALID_OPTION'),
      );
    });
  });

  describe('toBenchmark', () => {
    it('refuses an export without a run function, naming the file', () => {
      assert.throws(
        () => toBenchmark('x.bench.ts', { name: 'x' }),
        (err: unknown) =>
          hasErrorCode(err, 'ERR_BENCH_INVALID_MODULE') && (err as Error).message.startsWith('x.bench.ts'),
      );
    });
  });

  describe('formatResultsTable and writeResultJson', () => {
    it('prints medians and ratios in aligned columns and writes <name>.json', async () => {
      const benchmark: Benchmark = {
        name: 'fake',
        description: 'd',
        ratios: { overBase: ['latencyMs', 'baseMs'] },
        run: () => Promise.resolve({ latencyMs: 1.5, throughputPerS: 12_345 }),
      };
      const result = await runBenchmark(benchmark, { repeat: 1, isQuick: false, baseline: { baseMs: 0.5 } });
      assert.equal(
        formatResultsTable([result]),
        [
          'benchmark  metric                median    min    max  runs',
          'fake       latencyMs              1.500  1.500  1.500     1',
          'fake       throughputPerS         12345  12345  12345     1',
          'fake       overBase (×baseline)   3.000                   1',
        ].join('\n'),
      );
      const dir = await mkdtemp(join(tmpdir(), 'bench-'));
      try {
        const path = await writeResultJson(dir, result);
        assert.equal(path, join(dir, 'fake.json'));
        const written = JSON.parse(await readFile(path, 'utf8')) as {
          name: string;
          ratios: unknown;
          runs: unknown;
        };
        assert.deepEqual(
          [written.name, written.ratios, written.runs],
          ['fake', { overBase: 3 }, [{ latencyMs: 1.5, throughputPerS: 12_345 }]],
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
