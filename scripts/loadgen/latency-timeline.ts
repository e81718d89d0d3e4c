// Per-bucket and overall accounting of a load run: requests are placed in the bucket of their
// *scheduled* send time, so a stall lands where it happened, and latency is recorded in HDR
// histograms (microseconds) both from the scheduled and from the actual send time (the first is
// free of coordinated omission, the second shows what the network and server alone cost).
// Fed by load-generator.ts; summarised to plain JSON for the CLI table, the plot and benchmarks.

import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

const HIGHEST_TRACKABLE_US = 3_600_000_000; // one hour: nothing real is slower, and values above are clamped

// Overall histograms keep 3 significant digits (~95 KiB each); per-bucket ones keep 2 (1 %, ~14 KiB),
// enough for a timeline and cheap for thousands of buckets. Plain 32-bit counts: the packed layout
// is smaller but made the percentile scans of a report cost seconds.
function newHistogram(significantDigits: 2 | 3): Histogram {
  return hdr.build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: significantDigits,
    useWebAssembly: false,
  });
}

function recordMs(histogram: Histogram, valueMs: number): void {
  const valueUs = Math.round(valueMs * 1000);
  histogram.recordValue(Math.min(Math.max(valueUs, 0), HIGHEST_TRACKABLE_US));
}

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

export function summarizeHistogram(histogram: Histogram): LatencySummary {
  // HDR percentiles report the top of a value's sub-bucket, which can exceed the exact maximum:
  // clamp, so p99.9 never reads above max.
  const ms = (valueUs: number): number => Math.round(Math.min(valueUs, histogram.maxValue)) / 1000;
  if (histogram.totalCount === 0)
    return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0, meanMs: 0 };
  return {
    count: histogram.totalCount,
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p90Ms: ms(histogram.getValueAtPercentile(90)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    p999Ms: ms(histogram.getValueAtPercentile(99.9)),
    maxMs: ms(histogram.maxValue),
    meanMs: ms(histogram.mean),
  };
}

export interface TimeRange {
  readonly startMs: number;
  readonly endMs: number;
}

export interface FaultCounts {
  sent: number;
  replied: number;
  lost: number;
  duplicates: number;
  wrongState: number;
  errors: number;
  late: number;
}

export interface BucketSummary extends Readonly<FaultCounts> {
  /** Bucket start, ms after the run's start. */
  readonly startMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Replies per answering node (FunctionReply.node). */
  readonly nodes: Readonly<Record<string, number>>;
}

interface Bucket extends FaultCounts {
  readonly latency: Histogram;
  readonly nodes: Map<string, number>;
}

export type FaultKind = Exclude<keyof FaultCounts, 'sent' | 'replied'>;

function emptyCounts(): FaultCounts {
  return { sent: 0, replied: 0, lost: 0, duplicates: 0, wrongState: 0, errors: 0, late: 0 };
}

export class LatencyTimeline {
  readonly #startMs: number;
  readonly #bucketMs: number;
  readonly #buckets: Bucket[] = [];
  readonly #fromScheduled = newHistogram(3);
  readonly #fromSent = newHistogram(3);
  readonly #scheduleLag = newHistogram(3);
  readonly #totals = emptyCounts();
  readonly #nodes = new Map<string, number>();

  constructor(startMs: number, bucketMs: number) {
    this.#startMs = startMs;
    this.#bucketMs = bucketMs;
  }

  recordSent(scheduledAtMs: number, sentAtMs: number): void {
    this.#bucketAt(scheduledAtMs).sent += 1;
    this.#totals.sent += 1;
    recordMs(this.#scheduleLag, sentAtMs - scheduledAtMs);
  }

  recordReply(
    request: { scheduledAtMs: number; sentAtMs: number },
    receivedAtMs: number,
    node: string,
  ): void {
    const bucket = this.#bucketAt(request.scheduledAtMs);
    bucket.replied += 1;
    this.#totals.replied += 1;
    recordMs(bucket.latency, receivedAtMs - request.scheduledAtMs);
    recordMs(this.#fromScheduled, receivedAtMs - request.scheduledAtMs);
    recordMs(this.#fromSent, receivedAtMs - request.sentAtMs);
    bucket.nodes.set(node, (bucket.nodes.get(node) ?? 0) + 1);
    this.#nodes.set(node, (this.#nodes.get(node) ?? 0) + 1);
  }

  recordFault(kind: FaultKind, scheduledAtMs: number): void {
    this.#bucketAt(scheduledAtMs)[kind] += 1;
    this.#totals[kind] += 1;
  }

  get totals(): Readonly<FaultCounts> {
    return { ...this.#totals };
  }

  get latencyFromScheduled(): LatencySummary {
    return summarizeHistogram(this.#fromScheduled);
  }

  get latencyFromSent(): LatencySummary {
    return summarizeHistogram(this.#fromSent);
  }

  get scheduleLag(): LatencySummary {
    return summarizeHistogram(this.#scheduleLag);
  }

  get nodes(): Record<string, number> {
    return Object.fromEntries(this.#nodes);
  }

  /**
   * Latency (from the scheduled send) of the requests scheduled in any of `ranges` (ms after the start),
   * pooled: exact to the bucket, so a range is widened to the buckets it touches.
   */
  latencyWithin(ranges: readonly TimeRange[]): LatencySummary {
    const pooled = newHistogram(2);
    this.#buckets.forEach((bucket, index) => {
      const startMs = index * this.#bucketMs;
      const touches = ranges.some(
        (range) => startMs < range.endMs && startMs + this.#bucketMs > range.startMs,
      );
      if (touches) pooled.add(bucket.latency);
    });
    return summarizeHistogram(pooled);
  }

  buckets(): BucketSummary[] {
    return this.#buckets.map((bucket, index) => {
      const { latency, nodes, ...counts } = bucket;
      const summary = summarizeHistogram(latency);
      return {
        startMs: index * this.#bucketMs,
        ...counts,
        p50Ms: summary.p50Ms,
        p99Ms: summary.p99Ms,
        maxMs: summary.maxMs,
        nodes: Object.fromEntries(nodes),
      };
    });
  }

  #bucketAt(scheduledAtMs: number): Bucket {
    const index = Math.max(0, Math.floor((scheduledAtMs - this.#startMs) / this.#bucketMs));
    while (this.#buckets.length <= index) {
      this.#buckets.push({ ...emptyCounts(), latency: newHistogram(2), nodes: new Map() });
    }
    return this.#buckets[index] as Bucket;
  }
}
