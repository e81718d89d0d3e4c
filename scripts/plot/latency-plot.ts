// Latency-over-time plot of a load run as plain SVG text (and an HTML page around it): p50, p99 and max
// per bucket, a red dot under buckets with lost, duplicated or wrong-state requests, and dashed markers
// for events passed in (migration start, freeze, cutover, commit). Pure; loadgen and plot CLIs write it.
// Invariant: all caller text is XML-escaped, so the output is well-formed whatever the labels.

export interface LatencyPoint {
  /** Bucket start, ms after the run's start. */
  readonly startMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Replies in the bucket; a bucket with none is drawn as a gap, not as zero latency. */
  readonly replied?: number;
  /** Faults of the bucket's requests; any above zero puts a red mark under the bucket. */
  readonly lost?: number;
  readonly duplicates?: number;
  readonly wrongState?: number;
}

export interface PlotMarker {
  /** ms after the run's start, on the same axis as the buckets. */
  readonly atMs: number;
  readonly label: string;
}

export interface LatencyPlotOptions {
  readonly buckets: readonly LatencyPoint[];
  /** Bucket width; points are drawn at bucket centres (default: spacing of the first two buckets, else 100). */
  readonly bucketMs?: number;
  readonly markers?: readonly PlotMarker[];
  readonly title?: string;
  readonly widthPx?: number;
  readonly heightPx?: number;
  readonly yScale?: 'linear' | 'log';
}

const MARGIN = { left: 64, right: 24, top: 48, bottom: 44 } as const;
const SERIES = [
  { field: 'p50Ms', name: 'p50', color: '#1f77b4' },
  { field: 'p99Ms', name: 'p99', color: '#ff7f0e' },
  { field: 'maxMs', name: 'max', color: '#d62728' },
] as const;
const MARKER_COLOR = '#555555';
const FAULT_COLOR = '#d62728';

export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[c] ?? ''};`,
  );
}

/** Converts wall-clock event times to markers on the run's axis (LoadReport.startedAtEpochMs). */
export function markersFromEvents(
  startedAtEpochMs: number,
  events: readonly { readonly atEpochMs: number; readonly label: string }[],
): PlotMarker[] {
  return events.map((event) => ({ atMs: event.atEpochMs - startedAtEpochMs, label: event.label }));
}

/** Tick values at 1, 2 or 5 times a power of ten, about `count` of them over [0, max]. */
export function linearTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0];
  const rough = max / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 5, 10].find((factor) => factor * power >= rough) ?? 10) * power;
  const ticks: number[] = [];
  for (let value = 0; value <= max + step * 1e-9; value += step) ticks.push(Number(value.toPrecision(12)));
  return ticks;
}

function niceCeiling(max: number): number {
  const ticks = linearTicks(max);
  const last = ticks[ticks.length - 1] ?? 1;
  return last >= max ? last : last + (ticks[1] ?? 1);
}

interface Axis {
  readonly toPx: (value: number) => number;
  readonly ticks: readonly number[];
}

function yAxis(
  maxMs: number,
  minPositiveMs: number,
  scale: 'linear' | 'log',
  top: number,
  bottom: number,
): Axis {
  if (scale === 'log') {
    const low = 10 ** Math.floor(Math.log10(minPositiveMs));
    const high = 10 ** Math.ceil(Math.log10(Math.max(maxMs, low * 10)));
    const span = Math.log10(high) - Math.log10(low);
    const ticks: number[] = [];
    for (let value = low; value <= high * 1.0001; value *= 10) ticks.push(Number(value.toPrecision(6)));
    const toPx = (value: number): number =>
      bottom - ((Math.log10(Math.max(value, low)) - Math.log10(low)) / span) * (bottom - top);
    return { toPx, ticks };
  }
  const high = niceCeiling(maxMs > 0 ? maxMs : 1);
  return { toPx: (value) => bottom - (value / high) * (bottom - top), ticks: linearTicks(high) };
}

function formatTick(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(3)));
}

function seriesPath(
  points: readonly LatencyPoint[],
  field: (typeof SERIES)[number]['field'],
  x: (p: LatencyPoint) => number,
  y: Axis,
): string {
  let path = '';
  let isDrawing = false;
  for (const point of points) {
    if (point.replied === 0) {
      isDrawing = false;
      continue;
    }
    path += `${isDrawing ? 'L' : 'M'}${x(point).toFixed(1)},${y.toPx(point[field]).toFixed(1)} `;
    isDrawing = true;
  }
  return path.trim();
}

export function renderLatencySvg(options: LatencyPlotOptions): string {
  const widthPx = options.widthPx ?? 960;
  const heightPx = options.heightPx ?? 420;
  const markers = options.markers ?? [];
  const buckets = options.buckets;
  const bucketMs =
    options.bucketMs ??
    (buckets.length > 1 ? (buckets[1] as LatencyPoint).startMs - (buckets[0] as LatencyPoint).startMs : 100);
  const plotted = buckets.filter((bucket) => bucket.replied !== 0);
  const endMs = Math.max(
    bucketMs,
    ...buckets.map((b) => b.startMs + bucketMs),
    ...markers.map((m) => m.atMs),
  );
  const left = MARGIN.left;
  const right = widthPx - MARGIN.right;
  const top = MARGIN.top;
  const bottom = heightPx - MARGIN.bottom;
  const xMax = niceCeiling(endMs);
  const xPx = (ms: number): number => left + (Math.max(0, ms) / xMax) * (right - left);
  const maxMs = Math.max(0, ...plotted.map((b) => b.maxMs));
  const minPositiveMs = Math.min(
    ...plotted.flatMap((b) => [b.p50Ms, b.p99Ms, b.maxMs]).filter((v) => v > 0),
    1,
  );
  const y = yAxis(maxMs, minPositiveMs, options.yScale ?? 'linear', top, bottom);

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${widthPx}" height="${heightPx}" viewBox="0 0 ${widthPx} ${heightPx}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect x="0" y="0" width="${widthPx}" height="${heightPx}" fill="#ffffff"/>`);
  if (options.title !== undefined) {
    parts.push(
      `<text x="${left}" y="20" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
    );
  }
  parts.push('<g class="y-axis">');
  for (const tick of y.ticks) {
    const py = y.toPx(tick).toFixed(1);
    parts.push(`<line x1="${left}" y1="${py}" x2="${right}" y2="${py}" stroke="#e5e5e5"/>`);
    parts.push(
      `<text x="${left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${formatTick(tick)}</text>`,
    );
  }
  parts.push(
    `<text transform="translate(16 ${((top + bottom) / 2).toFixed(1)}) rotate(-90)" text-anchor="middle">latency (ms)</text>`,
  );
  parts.push('</g>');
  parts.push('<g class="x-axis">');
  for (const tick of linearTicks(xMax)) {
    const px = xPx(tick).toFixed(1);
    parts.push(`<line x1="${px}" y1="${bottom}" x2="${px}" y2="${bottom + 4}" stroke="#000000"/>`);
    parts.push(`<text x="${px}" y="${bottom + 16}" text-anchor="middle">${formatTick(tick)}</text>`);
  }
  parts.push(
    `<text x="${((left + right) / 2).toFixed(1)}" y="${heightPx - 6}" text-anchor="middle">time since start (ms)</text>`,
  );
  parts.push(`<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#000000"/>`);
  parts.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#000000"/>`);
  parts.push('</g>');

  const xOfPoint = (point: LatencyPoint): number => xPx(point.startMs + bucketMs / 2);
  for (const series of SERIES) {
    const d = seriesPath(buckets, series.field, xOfPoint, y);
    if (d.length > 0) {
      parts.push(
        `<path class="series-${series.name}" d="${d}" fill="none" stroke="${series.color}" stroke-width="1.5"/>`,
      );
    }
  }

  for (const bucket of buckets) {
    const faults = {
      lost: bucket.lost ?? 0,
      duplicates: bucket.duplicates ?? 0,
      wrongState: bucket.wrongState ?? 0,
    };
    if (faults.lost + faults.duplicates + faults.wrongState === 0) continue;
    const px = xOfPoint(bucket).toFixed(1);
    const what = Object.entries(faults)
      .filter(([, count]) => count > 0)
      .map(([kind, count]) => `${count} ${kind}`)
      .join(', ');
    parts.push(
      `<g class="fault"><circle cx="${px}" cy="${bottom - 5}" r="4" fill="${FAULT_COLOR}"/>` +
        `<title>${escapeXml(`${bucket.startMs} ms: ${what}`)}</title></g>`,
    );
  }

  markers.forEach((marker, index) => {
    const px = xPx(marker.atMs).toFixed(1);
    // Labels are staggered on three rows so markers close in time stay readable.
    parts.push(
      `<g class="marker"><line x1="${px}" y1="${top}" x2="${px}" y2="${bottom}" stroke="${MARKER_COLOR}" stroke-dasharray="4 3"/>` +
        `<text x="${px}" y="${top + 12 + (index % 3) * 14}" dx="3" fill="${MARKER_COLOR}">${escapeXml(marker.label)}</text>` +
        `<title>${escapeXml(`${marker.label} at ${marker.atMs.toFixed(1)} ms`)}</title></g>`,
    );
  });

  SERIES.forEach((series, index) => {
    const lx = right - 180 + index * 60;
    parts.push(
      `<g class="legend"><line x1="${lx}" y1="${top - 16}" x2="${lx + 18}" y2="${top - 16}" stroke="${series.color}" stroke-width="2"/>` +
        `<text x="${lx + 22}" y="${top - 12}">${series.name}</text></g>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export function renderLatencyHtml(options: LatencyPlotOptions): string {
  const title = options.title ?? 'Latency over time';
  const markerRows = (options.markers ?? [])
    .map((marker) => `<tr><td>${marker.atMs.toFixed(1)}</td><td>${escapeXml(marker.label)}</td></tr>`)
    .join('\n');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    `<head><meta charset="utf-8"><title>${escapeXml(title)}</title>`,
    '<style>body{font-family:sans-serif;margin:24px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}</style></head>',
    '<body>',
    `<h1>${escapeXml(title)}</h1>`,
    renderLatencySvg(options).trimEnd(),
    markerRows.length > 0
      ? `<h2>Events</h2>\n<table><tr><th>ms</th><th>event</th></tr>\n${markerRows}\n</table>`
      : '',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
