// Command line of the load generator: `tsx scripts/loadgen/cli.ts --target host:port --rate 1000
// --duration-ms 10000 --keys 100 --service ingest [--json-out f] [--svg-out f] [--html-out f]`.
// Parses and checks flags once, runs a LoadGenerator, prints the timeline table and summary, writes
// the JSON report and the latency plot. Exits 1 when any request was lost, duplicated or wrong.

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { LoadGenerator, readingValue } from './load-generator.ts';
import type { LoadProgress, LoadReport } from './load-generator.ts';
import { counterStateChecker } from './reply-checker.ts';
import { formatSummary, formatTimelineTable } from './timeline-table.ts';
import { renderLatencyHtml, renderLatencySvg } from '../plot/latency-plot.ts';
import type { PlotMarker } from '../plot/latency-plot.ts';
import { parseTimedLabels } from '../plot/plot-cli.ts';

function positiveNumber(value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0)
    throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return number;
}

export function parseTarget(value: string): { host: string; port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65_535)
    throw new InvalidArgumentError(`expected host:port, got "${value}"`);
  return { host: (match[1] as string).replace(/^\[(.*)\]$/, '$1'), port };
}

interface CliOptions {
  target: { host: string; port: number };
  rate: number;
  durationMs: number;
  keys: number;
  service: string;
  bucketMs: number;
  deadlineMs: number;
  sockets: number;
  check: 'none' | 'counter';
  countField: string;
  valueField: string;
  jsonOut?: string;
  svgOut?: string;
  htmlOut?: string;
  markers?: PlotMarker[];
  table: boolean;
}

function buildCommand(): Command {
  return new Command('loadgen')
    .description(
      'Open-loop UDP load generator for an EdgeShift service: checks every reply, prints a latency timeline',
    )
    .requiredOption('--target <host:port>', 'service address (VIP:port or a node)', parseTarget)
    .option('--rate <hz>', 'requests per second', positiveNumber, 1000)
    .option('--duration-ms <ms>', 'how long to send', positiveNumber, 10_000)
    .option('--keys <n>', 'distinct keys, used round robin', positiveNumber, 100)
    .option('--service <name>', 'service name in each request', 'ingest')
    .option(
      '--value-field <name>',
      'body field of the reading: body is {sensorId: <key>, <field>: <number>}',
      'value',
    )
    .option('--bucket-ms <ms>', 'timeline bucket width', positiveNumber, 100)
    .option('--deadline-ms <ms>', 'a request without reply after this is lost', positiveNumber, 1000)
    .option('--sockets <n>', 'UDP sockets to send from', positiveNumber, 1)
    .option(
      '--check <kind>',
      'reply state check: counter (body.<count-field> = requests of the key so far) or none',
      'counter',
    )
    .option('--count-field <name>', 'reply body field holding the per-key count', 'count')
    .option('--json-out <file>', 'write the JSON report here')
    .option('--svg-out <file>', 'write the latency plot (SVG) here')
    .option('--html-out <file>', 'write the latency plot wrapped in HTML here')
    .option('--markers <json>', 'events to mark on the plot: [{"atMs":1200,"label":"freeze"}]', (value) =>
      parseTimedLabels('--markers', value, 'atMs'),
    )
    .option('--no-table', 'do not print the per-bucket timeline');
}

function progressReporter(scheduled: number): { update: (p: LoadProgress) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    {
      format: 'sending [{bar}] {value}/{total} sent | {replied} replied | {lost} lost',
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(scheduled, 0, { replied: 0, lost: 0 });
  return { update: (p) => bar.update(p.sent, { replied: p.replied, lost: p.lost }), stop: () => bar.stop() };
}

async function writeOutput(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

async function writeOutputs(report: LoadReport, options: CliOptions): Promise<void> {
  const plot = {
    buckets: report.buckets,
    bucketMs: report.bucketMs,
    markers: [...report.markers, ...(options.markers ?? [])].sort((a, b) => a.atMs - b.atMs),
    title: `${report.service} at ${report.rateHz} Hz, ${report.keyCount} keys (${report.target})`,
  };
  if (options.jsonOut) await writeOutput(options.jsonOut, JSON.stringify(report, null, 2) + '\n');
  if (options.svgOut) await writeOutput(options.svgOut, renderLatencySvg(plot));
  if (options.htmlOut) await writeOutput(options.htmlOut, renderLatencyHtml(plot));
}

/** Runs the CLI; `print` receives the table and summary (stdout by default). Resolves to the exit code. */
export async function main(
  argv: readonly string[],
  print: (text: string) => void = console.log,
): Promise<number> {
  const options = buildCommand().parse(argv, { from: 'node' }).opts<CliOptions>();
  if (options.check !== 'none' && options.check !== 'counter') {
    throw new InvalidArgumentError(`--check must be counter or none, got "${String(options.check)}"`);
  }
  const scheduled = Math.round((options.rate * options.durationMs) / 1000);
  const progress = progressReporter(scheduled);
  // Ctrl-C ends the schedule early but still waits for replies and reports what was sent.
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  process.once('SIGINT', abort);
  const generator = new LoadGenerator({
    target: options.target,
    service: options.service,
    rateHz: options.rate,
    durationMs: options.durationMs,
    keyCount: Math.round(options.keys),
    bucketMs: options.bucketMs,
    replyDeadlineMs: options.deadlineMs,
    socketCount: Math.round(options.sockets),
    makeBody: (key, keyIndex) => ({ sensorId: key, [options.valueField]: readingValue(key, keyIndex) }),
    ...(options.check === 'counter'
      ? { checkState: counterStateChecker({ countField: options.countField }) }
      : {}),
    onProgress: progress.update,
    signal: controller.signal,
  });
  const report = await generator.run().finally(() => {
    progress.stop();
    process.off('SIGINT', abort);
  });
  if (options.table) print(formatTimelineTable(report));
  print(formatSummary(report));
  await writeOutputs(report, options);
  const { lost, duplicates, wrongState } = report.totals;
  return lost + duplicates + wrongState > 0 ? 1 : 0;
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
