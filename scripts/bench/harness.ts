// The benchmark harness: runs a named benchmark N times, takes the median of each metric, and
// expresses chosen metrics as ratios to a baseline measured in the same run (so a noisy, shared
// machine compares like with like). run-all.ts discovers benchmarks and prints/writes the results.
//
// A benchmark is a module scripts/bench/<name>.bench.ts exporting
//   export const benchmark: Benchmark = {
//     name: 'data-plane-relay',                     // kebab-case, unique; names build/bench/<name>.json
//     description: 'one line: what is measured',
//     ratios: { relayP99OverEcho: ['relayP99Ms', 'echoP99Ms'] }, // optional: name → [own metric, baseline metric]
//     async run(context) { ...; return { relayP99Ms: 0.31, throughputRequestsPerS: 41000 }; },
//   };
// `run` measures once and resolves to numeric metrics whose names carry their unit (Ms, Bytes,
// Percent, PerS). The harness calls it `repeat` times in sequence; context.isQuick asks for a short
// version (CI smoke); context.baseline holds the baseline's medians (loadgen-overhead.ts) if any.

import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { EdgeShiftError } from '../../components/common/errors.ts';

export type Metrics = Readonly<Record<string, number>>;

export interface BenchmarkContext {
  /** 0-based repetition. */
  readonly runIndex: number;
  /** A short version was asked for (smoke test); keep the same metric names. */
  readonly isQuick: boolean;
  /** Medians of the baseline benchmark in this run (empty when this is the baseline). */
  readonly baseline: Metrics;
}

export interface Benchmark {
  readonly name: string;
  readonly description: string;
  /** Ratio name → [metric of this benchmark, metric of the baseline]: reported as median / baseline median. */
  readonly ratios?: Readonly<Record<string, readonly [string, string]>>;
  run(context: BenchmarkContext): Promise<Metrics>;
}

export interface MetricStats {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface BenchmarkResult {
  readonly name: string;
  readonly description: string;
  readonly repeat: number;
  readonly isQuick: boolean;
  readonly runs: readonly Metrics[];
  readonly metrics: Readonly<Record<string, MetricStats>>;
  readonly ratios: Readonly<Record<string, number>>;
  readonly baseline: Metrics;
  /** Where it ran; a 1-minute load average above the CPU count means the numbers are contended. */
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly node: string;
    readonly platform: string;
    readonly loadAverage1m: number;
  };
  readonly finishedAt: string;
}

/** Median of the values (mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Per metric: median, min and max over the runs (a metric missing from a run is left out of that run). */
export function summarizeRuns(runs: readonly Metrics[]): Record<string, MetricStats> {
  const names = [...new Set(runs.flatMap((run) => Object.keys(run)))].sort();
  return Object.fromEntries(
    names.map((name) => {
      const values = runs.map((run) => run[name]).filter((value): value is number => value !== undefined);
      return [name, { median: median(values), min: Math.min(...values), max: Math.max(...values) }];
    }),
  );
}

/** ratio name → own median / baseline median; a ratio whose inputs are missing or whose baseline is 0 is left out. */
export function computeRatios(
  metrics: Readonly<Record<string, MetricStats>>,
  baseline: Metrics,
  ratios: Readonly<Record<string, readonly [string, string]>>,
): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [ratioName, [own, base]] of Object.entries(ratios)) {
    const numerator = metrics[own]?.median;
    const denominator = baseline[base];
    if (numerator === undefined || denominator === undefined || denominator === 0) continue;
    result[ratioName] = numerator / denominator;
  }
  return result;
}

function checkMetrics(name: string, metrics: unknown): Metrics {
  const isNumeric =
    typeof metrics === 'object' &&
    metrics !== null &&
    Object.values(metrics).every((value) => typeof value === 'number' && !Number.isNaN(value));
  if (!isNumeric) {
    throw new EdgeShiftError(
      'ERR_BENCH_INVALID_MODULE',
      `benchmark ${name}: run() must resolve to numeric metrics, instead got ${JSON.stringify(metrics)}`,
      {
        context: { benchmark: name },
      },
    );
  }
  return metrics as Metrics;
}

/** Accepts a module's export as a Benchmark, or says what is wrong with it. */
export function toBenchmark(source: string, exported: unknown): Benchmark {
  const candidate = exported as Partial<Benchmark> | undefined;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.name !== 'string' ||
    typeof candidate.run !== 'function'
  ) {
    throw new EdgeShiftError(
      'ERR_BENCH_INVALID_MODULE',
      `${source} must export \`benchmark\` with a name and a run function`,
      {
        context: { source },
      },
    );
  }
  return { description: '', ...candidate } as Benchmark;
}

export async function runBenchmark(
  benchmark: Benchmark,
  options: { repeat: number; isQuick: boolean; baseline?: Metrics },
): Promise<BenchmarkResult> {
  if (!Number.isInteger(options.repeat) || options.repeat < 1) {
    throw new EdgeShiftError(
      'ERR_LOADGEN_INVALID_OPTION',
      `repeat must be a positive integer, instead got ${options.repeat}`,
      {
        context: { option: 'repeat' },
      },
    );
  }
  const baseline = options.baseline ?? {};
  const runs: Metrics[] = [];
  for (let runIndex = 0; runIndex < options.repeat; runIndex += 1) {
    runs.push(
      checkMetrics(benchmark.name, await benchmark.run({ runIndex, isQuick: options.isQuick, baseline })),
    );
  }
  const metrics = summarizeRuns(runs);
  const cpus = os.cpus();
  return {
    name: benchmark.name,
    description: benchmark.description,
    repeat: options.repeat,
    isQuick: options.isQuick,
    runs,
    metrics,
    ratios: computeRatios(metrics, baseline, benchmark.ratios ?? {}),
    baseline,
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      loadAverage1m: os.loadavg()[0] ?? 0,
    },
    finishedAt: new Date().toISOString(),
  };
}

/** The medians of a result, as a baseline for the benchmarks that follow. */
export function baselineOf(result: BenchmarkResult): Metrics {
  return Object.fromEntries(Object.entries(result.metrics).map(([name, stats]) => [name, stats.median]));
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  return value.toFixed(3);
}

/** One table for all results: benchmark, metric, median, min, max (ratios as rows marked ×baseline). */
export function formatResultsTable(results: readonly BenchmarkResult[]): string {
  const rows: string[][] = [['benchmark', 'metric', 'median', 'min', 'max', 'runs']];
  for (const result of results) {
    for (const [name, stats] of Object.entries(result.metrics)) {
      rows.push([
        result.name,
        name,
        formatNumber(stats.median),
        formatNumber(stats.min),
        formatNumber(stats.max),
        String(result.runs.length),
      ]);
    }
    for (const [name, ratio] of Object.entries(result.ratios)) {
      rows.push([
        result.name,
        `${name} (×baseline)`,
        formatNumber(ratio),
        '',
        '',
        String(result.runs.length),
      ]);
    }
  }
  const widths = (rows[0] as string[]).map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? '').length)),
  );
  return rows
    .map((row) =>
      row
        .map((cell, column) =>
          column < 2 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export async function writeResultJson(outDir: string, result: BenchmarkResult): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const path = join(outDir, `${result.name}.json`);
  await writeFile(path, JSON.stringify(result, null, 2) + '\n');
  return path;
}
