// Formats a LoadReport for people: the per-bucket timeline (sent, replied, faults, latency, which
// node answered) as a fixed-width table and a few summary lines. Pure; used by cli.ts.
// Invariant: one row per bucket, in time order, columns aligned whatever the values.

import type { LoadReport } from './load-generator.ts';

const COLUMNS = [
  't_ms',
  'sent',
  'replied',
  'lost',
  'dup',
  'wrong',
  'err',
  'p50_ms',
  'p99_ms',
  'max_ms',
  'nodes',
] as const;

function formatMs(valueMs: number): string {
  return valueMs >= 100 ? valueMs.toFixed(0) : valueMs.toFixed(2);
}

function formatNodes(nodes: Readonly<Record<string, number>>): string {
  return Object.entries(nodes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([node, count]) => `${node}:${count}`)
    .join(' ');
}

export function formatTimelineTable(report: LoadReport): string {
  const rows = report.buckets.map((bucket) => [
    String(bucket.startMs),
    String(bucket.sent),
    String(bucket.replied),
    String(bucket.lost),
    String(bucket.duplicates),
    String(bucket.wrongState),
    String(bucket.errors),
    formatMs(bucket.p50Ms),
    formatMs(bucket.p99Ms),
    formatMs(bucket.maxMs),
    formatNodes(bucket.nodes),
  ]);
  const table = [[...COLUMNS], ...rows];
  const widths = COLUMNS.map((_, column) => Math.max(...table.map((row) => (row[column] ?? '').length)));
  // Right-align numbers; the last column (nodes) is text and stays left-aligned.
  const lines = table.map((row) =>
    row
      .map((cell, column) => (column === COLUMNS.length - 1 ? cell : cell.padStart(widths[column] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
  return lines.join('\n');
}

export function formatSummary(report: LoadReport): string {
  const { totals, latency, scheduleLag } = report;
  const fromScheduled = latency.fromScheduled;
  return [
    `target ${report.target} service ${report.service}: ${totals.sent}/${totals.scheduled} sent${report.stoppedEarly ? ' (stopped early)' : ''} at ${report.achievedRateHz.toFixed(1)} Hz (asked ${report.rateHz} Hz), ${totals.replied} replied`,
    `lost ${totals.lost}  duplicates ${totals.duplicates}  wrong state ${totals.wrongState}  errors ${totals.errors}  late ${totals.late}  unexpected ${totals.unexpected}  invalid ${totals.invalid}  send errors ${totals.sendErrors}`,
    `latency from scheduled send: p50 ${formatMs(fromScheduled.p50Ms)} ms  p99 ${formatMs(fromScheduled.p99Ms)} ms  p99.9 ${formatMs(fromScheduled.p999Ms)} ms  max ${formatMs(fromScheduled.maxMs)} ms`,
    `latency from actual send:    p50 ${formatMs(latency.fromSent.p50Ms)} ms  p99 ${formatMs(latency.fromSent.p99Ms)} ms  max ${formatMs(latency.fromSent.maxMs)} ms`,
    `schedule lag: p99 ${formatMs(scheduleLag.p99Ms)} ms  max ${formatMs(scheduleLag.maxMs)} ms   nodes: ${formatNodes(report.nodes)}`,
  ].join('\n');
}
