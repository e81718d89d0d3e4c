// Re-plots a saved load report: `tsx scripts/plot/plot-cli.ts --report build/run.json
// [--events events.json] [--markers '<json>'] --svg-out f.svg [--html-out f.html] [--log]`.
// Events carry wall-clock times ({atEpochMs, label}) and are placed with the report's startedAtEpochMs;
// markers are already relative ({atMs, label}). The report file is validated here, once.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { EdgeShiftError } from '../../components/common/errors.ts';
import { markersFromEvents, renderLatencyHtml, renderLatencySvg } from './latency-plot.ts';
import type { LatencyPoint, PlotMarker } from './latency-plot.ts';

export interface SavedReport {
  readonly startedAtEpochMs: number;
  readonly bucketMs: number;
  readonly buckets: readonly LatencyPoint[];
  readonly title: string;
  /** Markers the run recorded itself (LoadGenerator.mark), if any. */
  readonly markers: readonly PlotMarker[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isBucket(value: unknown): value is LatencyPoint {
  return (
    isRecord(value) &&
    ['startMs', 'p50Ms', 'p99Ms', 'maxMs'].every((field) => typeof value[field] === 'number')
  );
}

function isMarker(value: unknown): value is PlotMarker {
  return isRecord(value) && typeof value.atMs === 'number' && typeof value.label === 'string';
}

function invalid(source: string, what: string): EdgeShiftError {
  return new EdgeShiftError('ERR_PLOT_BAD_INPUT', `${source}: ${what}`, { context: { source } });
}

/** Checks a LoadReport read from a file: the fields a plot needs, with their types. */
export function parseSavedReport(source: string, text: string): SavedReport {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(source, 'not JSON');
  }
  if (!isRecord(value)) throw invalid(source, 'not a JSON object');
  const { startedAtEpochMs, bucketMs, buckets } = value;
  if (typeof startedAtEpochMs !== 'number' || typeof bucketMs !== 'number') {
    throw invalid(source, 'startedAtEpochMs and bucketMs must be numbers');
  }
  if (!Array.isArray(buckets) || !buckets.every(isBucket)) {
    throw invalid(source, 'buckets must be a list of {startMs, p50Ms, p99Ms, maxMs}');
  }
  const markers = value.markers ?? [];
  if (!Array.isArray(markers) || !markers.every(isMarker))
    throw invalid(source, 'markers must be a list of {atMs, label}');
  const { service, rateHz, target } = value;
  const title = [
    typeof service === 'string' ? service : undefined,
    typeof rateHz === 'number' ? `${rateHz} Hz` : undefined,
    typeof target === 'string' ? target : undefined,
  ]
    .filter((part) => part !== undefined)
    .join(' ');
  return { startedAtEpochMs, bucketMs, buckets, title, markers };
}

/** Checks a list of {[timeField]: number, label: string} read from a file or a flag. */
export function parseTimedLabels<F extends 'atMs' | 'atEpochMs'>(
  source: string,
  text: string,
  timeField: F,
): Array<Record<F, number> & { label: string }> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(source, 'not JSON');
  }
  const isItem = (item: unknown): item is Record<F, number> & { label: string } =>
    isRecord(item) && typeof item[timeField] === 'number' && typeof item.label === 'string';
  if (!Array.isArray(value) || !value.every(isItem))
    throw invalid(source, `expected [{"${timeField}": number, "label": string}, ...]`);
  return value;
}

interface PlotCliOptions {
  report: string;
  events?: string;
  markers?: string;
  svgOut?: string;
  htmlOut?: string;
  title?: string;
  log: boolean;
}

async function writeOutput(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

export async function main(argv: readonly string[]): Promise<void> {
  const options = new Command('plot')
    .description('Plot latency over time from a saved load report, with event markers')
    .requiredOption('--report <file>', 'JSON report written by the load generator (--json-out)')
    .option('--events <file>', 'JSON list of {atEpochMs, label} (wall-clock event times)')
    .option('--markers <json>', 'JSON list of {atMs, label} relative to the run start')
    .option('--svg-out <file>', 'SVG output')
    .option('--html-out <file>', 'HTML output')
    .option('--title <text>', 'plot title')
    .option('--log', 'logarithmic latency axis', false)
    .parse(argv, { from: 'node' })
    .opts<PlotCliOptions>();
  if (!options.svgOut && !options.htmlOut) throw new InvalidArgumentError('give --svg-out and/or --html-out');
  const report = parseSavedReport(options.report, await readFile(options.report, 'utf8'));
  const markers: PlotMarker[] = [
    ...report.markers,
    ...(options.events
      ? markersFromEvents(
          report.startedAtEpochMs,
          parseTimedLabels(options.events, await readFile(options.events, 'utf8'), 'atEpochMs'),
        )
      : []),
    ...(options.markers ? parseTimedLabels('--markers', options.markers, 'atMs') : []),
  ].sort((a, b) => a.atMs - b.atMs);
  const plot = {
    buckets: report.buckets,
    bucketMs: report.bucketMs,
    markers,
    title: options.title ?? report.title,
    yScale: options.log ? ('log' as const) : ('linear' as const),
  };
  if (options.svgOut) await writeOutput(options.svgOut, renderLatencySvg(plot));
  if (options.htmlOut) await writeOutput(options.htmlOut, renderLatencyHtml(plot));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(2);
  });
}
