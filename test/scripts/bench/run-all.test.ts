import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoverBenchmarks, main } from '../../../scripts/bench/run-all.ts';
import type { BenchmarkResult } from '../../../scripts/bench/harness.ts';
import { hasErrorCode } from '../../../components/common/errors.ts';

describe('run-all', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-discovery-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('discoverBenchmarks', () => {
    it('imports every *.bench.ts file in name order and ignores other files', async () => {
      const module = (name: string): string =>
        `export const benchmark = { name: '${name}', description: '', run: async () => ({ valueMs: 1 }) };\n`;
      await writeFile(join(dir, 'b-second.bench.ts'), module('b-second'));
      await writeFile(join(dir, 'a-first.bench.ts'), module('a-first'));
      await writeFile(join(dir, 'helper.ts'), 'export const notABenchmark = 1;\n');
      const found = await discoverBenchmarks(dir);
      assert.deepEqual(
        found.map((b) => b.name),
        ['a-first', 'b-second'],
        'both benchmark files, sorted, helper skipped',
      );
      assert.deepEqual(await found[0]?.run({ runIndex: 0, isQuick: true, baseline: {} }), { valueMs: 1 });
    });

    it('refuses a *.bench.ts file that does not export a benchmark', async () => {
      await writeFile(join(dir, 'broken.bench.ts'), 'export const something = {};\n');
      await assert.rejects(discoverBenchmarks(dir), (err: unknown) =>
        hasErrorCode(err, 'ERR_BENCH_INVALID_MODULE'),
      );
    });
  });

  describe('main', function () {
    this.timeout(60_000);

    it('runs the baseline first, hands its medians to the others, writes one JSON each and exits 1 on a failure', async () => {
      // A benchmark that reports the baseline's echo p50 back and one that throws.
      await writeFile(
        join(dir, 'echo-copy.bench.ts'),
        `export const benchmark = { name: 'echo-copy', description: '', ratios: { same: ['copyMs', 'echoP50Ms'] },
           run: async (context) => ({ copyMs: context.baseline.echoP50Ms }) };\n`,
      );
      await writeFile(
        join(dir, 'broken.bench.ts'),
        `export const benchmark = { name: 'broken', description: '', run: async () => { throw new Error('no rig'); } };\n`,
      );
      const outDir = join(dir, 'out');
      const printed: string[] = [];
      const logged: string[] = [];
      const code = await main(['node', 'run-all.ts', '--quick', '--repeat', '1', '--out-dir', outDir], {
        benchDir: dir,
        print: (text) => printed.push(text),
        log: (text) => logged.push(text),
      });
      assert.equal(code, 1, 'a failed benchmark fails the run');
      assert.ok(logged.includes('FAILED broken: no rig'), `the failure is named: ${logged.join(' | ')}`);
      const baseline = JSON.parse(
        await readFile(join(outDir, 'loadgen-overhead.json'), 'utf8'),
      ) as BenchmarkResult;
      const copy = JSON.parse(await readFile(join(outDir, 'echo-copy.json'), 'utf8')) as BenchmarkResult;
      assert.ok((baseline.metrics.echoP50Ms?.median ?? 0) > 0, 'the baseline measured an echo latency');
      assert.equal(
        copy.metrics.copyMs?.median,
        baseline.metrics.echoP50Ms?.median,
        'the baseline medians reach the next benchmark',
      );
      assert.deepEqual(copy.ratios, { same: 1 }, 'a ratio of a metric to itself is 1');
      assert.match(printed[0] ?? '', /^benchmark +metric +median/, 'the table is printed');
    });
  });
});
