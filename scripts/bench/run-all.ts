// `npm run bench [-- --repeat 5 --quick --only a,b --out-dir build/bench]`: runs the baseline
// (loadgen-overhead.ts) and then every scripts/bench/*.bench.ts it discovers, each `repeat` times,
// prints one table of medians and ratios and writes build/bench/<name>.json per benchmark.
// Module shape and metric naming: see harness.ts. A benchmark that throws fails the run (exit 1)
// after the others have run.

import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { EdgeShiftError } from '../../components/common/errors.ts';
import { baselineOf, formatResultsTable, runBenchmark, toBenchmark, writeResultJson } from './harness.ts';
import type { Benchmark, BenchmarkResult } from './harness.ts';
import { benchmark as baselineBenchmark } from './loadgen-overhead.ts';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

/** Every `*.bench.ts` file in `dir`, imported and checked, in file-name order. */
export async function discoverBenchmarks(dir: string): Promise<Benchmark[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.bench.ts')).sort();
  const benchmarks: Benchmark[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(join(dir, file)).href)) as { benchmark?: unknown };
    benchmarks.push(toBenchmark(file, module.benchmark));
  }
  return benchmarks;
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1)
    throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return number;
}

interface RunAllOptions {
  repeat: number;
  quick: boolean;
  only?: string;
  outDir: string;
}

function selectBenchmarks(all: readonly Benchmark[], only: string | undefined): Benchmark[] {
  if (only === undefined) return [...all];
  const names = only.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!all.some((benchmark) => benchmark.name === name)) {
      throw new EdgeShiftError(
        'ERR_BENCH_UNKNOWN_NAME',
        `no benchmark named "${name}"; known: ${all.map((b) => b.name).join(', ')}`,
        {
          context: { benchmark: name },
        },
      );
    }
  }
  return all.filter((benchmark) => names.includes(benchmark.name));
}

/** Runs the command; `benchDir` (where to discover), `print` (stdout) and `log` (stderr) are replaceable for tests. */
export async function main(
  argv: readonly string[],
  io: { benchDir?: string; print?: (text: string) => void; log?: (text: string) => void } = {},
): Promise<number> {
  const print = io.print ?? console.log;
  const log = io.log ?? console.error;
  const options = new Command('bench')
    .description('Run EdgeShift benchmarks: medians over repeats, ratios against the loopback UDP baseline')
    .option('--repeat <n>', 'runs per benchmark', positiveInteger, 5)
    .option('--quick', 'short runs (smoke test)', false)
    .option('--only <names>', 'comma-separated benchmark names (the baseline always runs)')
    .option('--out-dir <dir>', 'where <name>.json goes', 'build/bench')
    .parse(argv, { from: 'node' })
    .opts<RunAllOptions>();
  const others = selectBenchmarks(await discoverBenchmarks(io.benchDir ?? BENCH_DIR), options.only);
  const results: BenchmarkResult[] = [];
  const failures: string[] = [];
  log(`baseline: ${baselineBenchmark.name} × ${options.repeat}`);
  const baselineResult = await runBenchmark(baselineBenchmark, {
    repeat: options.repeat,
    isQuick: options.quick,
  });
  results.push(baselineResult);
  const baseline = baselineOf(baselineResult);
  for (const benchmark of others) {
    log(`running ${benchmark.name} × ${options.repeat}`);
    try {
      results.push(
        await runBenchmark(benchmark, { repeat: options.repeat, isQuick: options.quick, baseline }),
      );
    } catch (err) {
      failures.push(`${benchmark.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  for (const result of results) await writeResultJson(options.outDir, result);
  print(formatResultsTable(results));
  print(`\nwrote ${results.map((r) => join(options.outDir, `${r.name}.json`)).join(', ')}`);
  for (const failure of failures) log(`FAILED ${failure}`);
  return failures.length > 0 ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(2);
    },
  );
}
