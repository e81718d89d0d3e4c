// One smoothed load report of a node, in its two forms: the METRICS packet sent to the data plane
// (EdgeShift header, docs/protocol.md) and the JSON document published on the local topic
// edgeshift/metrics/<thingName> for the debugging CLI and other components. Used by node-monitor.ts.
import { encodeHeader } from '../../p4/protocol/edgeshift-header.ts';
import { PacketType } from '../../p4/protocol/edgeshift-protocol.ts';

export const METRICS_TOPIC_PREFIX = 'edgeshift/metrics/';

export function metricsTopicOf(thingName: string): string {
  return `${METRICS_TOPIC_PREFIX}${thingName}`;
}

/** The JSON published on metricsTopicOf(thingName) once per period. */
export interface MetricsReport {
  readonly nodeId: number;
  readonly thingName: string;
  readonly sequence: number;
  /** Wall-clock time of the sample, ms since the Unix epoch. */
  readonly timestampMs: number;
  readonly cpuLoadBp: number;
  readonly memLoadBp: number;
  readonly inflightRequests: number;
  /** The unsmoothed sample, ratios 0..1 (cpu null when the source had no interval yet). */
  readonly rawCpuLoadRatio: number | null;
  readonly rawMemLoadRatio: number;
}

const SEQUENCE_MODULUS = 2 ** 32;

/**
 * The first sequence number of a monitor: wall-clock milliseconds modulo 2^32. A monitor sends at most
 * one packet per 10 ms (periodMs >= 10) while this clock advances 10, so a restarted monitor starts
 * ahead of every sequence its predecessor sent and the data plane's serial-arithmetic check
 * (newer within 2^31) accepts it, for restarts within 2^31 ms (~24.8 days) of the previous start.
 */
export function initialSequence(wallClockMs: number): number {
  return Math.floor(wallClockMs) % SEQUENCE_MODULUS;
}

export function nextSequence(sequence: number): number {
  return (sequence + 1) % SEQUENCE_MODULUS;
}

/** In-flight requests as the 16-bit header field takes them: integer, clamped to 0..65535. */
export function clampInflightRequests(count: number): number {
  if (!Number.isFinite(count)) return 0;
  return Math.min(0xffff, Math.max(0, Math.round(count)));
}

export function encodeMetricsPacket(report: MetricsReport): Buffer {
  return encodeHeader({
    type: PacketType.METRICS,
    nodeId: report.nodeId,
    serviceId: 0,
    sequence: report.sequence,
    epoch: 0,
    cpuLoadBp: report.cpuLoadBp,
    memLoadBp: report.memLoadBp,
    inflightRequests: report.inflightRequests,
    targetNodeId: 0,
  });
}
