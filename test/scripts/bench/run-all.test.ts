import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoverBenchmarks } from '../../../scripts/bench/run-all.ts';
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
});
