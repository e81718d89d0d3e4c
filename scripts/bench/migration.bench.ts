// Benchmark of moving the stateful sensor-stats function on the two-node test bed
// (scripts/testbed/two-node-testbed.ts) under open-loop load, for about 1 MiB and 64 MiB of state:
// cutover time, freeze window (agent) and how long the service was frozen (function host), p50 and max
// over the moves, requests lost and duplicated, p99 latency of the requests sent during the moves
// over the p99 of those sent between them (same run), the same ratio for sham windows where nothing
// happens (the ratio's noise floor, 1 MiB only: a 64 MiB move outlasts the pause), the CPU a move
// costs the agents, the function hosts and the test bed's own process, and how much longer each waited
// for a core (both nodes, less their rates between moves: the contention a move adds), and
// state-transfer throughput against raw loopback TCP measured in the same run. Writes the latency
// plot of the 64 MiB run to build/bench/migration-latency.svg.
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

import type { MigrationResult } from '../../agent/migration/source-migration.ts';
import { PROJECT_ROOT } from '../build-artifacts.ts';
import { NO_TIME, processSchedTimes, type SchedTimes } from '../testbed/process-cpu.ts';
import type { TimeRange } from '../loadgen/latency-timeline.ts';
import type { LatencySummary } from '../loadgen/latency-timeline.ts';
import type { LoadReport } from '../loadgen/load-generator.ts';
import type { LoadGeneratorWorker } from '../loadgen/load-generator-worker.ts';
import { renderLatencySvg, type PlotMarker } from '../plot/latency-plot.ts';
import {
  sharedArtifactDir,
  TESTBED_COMPONENTS,
  type NodeName,
  type TwoNodeTestbed,
} from '../testbed/two-node-testbed.ts';
import { median, type Benchmark, type Metrics } from './harness.ts';
import { BUCKET_MS, pause, startLoadedTestbed, WARM_UP_MS } from './loaded-testbed.ts';

const MIB = 1024 * 1024;
const PLOT_PATH = path.join(PROJECT_ROOT, 'build', 'bench', 'migration-latency.svg');

/** The time between the move windows (after the warm-up), where the service runs undisturbed. */
function steadyRanges(windows: readonly TimeRange[], endMs: number): TimeRange[] {
  const ranges: TimeRange[] = [];
  let startMs = WARM_UP_MS;
  for (const window of windows) {
    if (window.startMs > startMs) ranges.push({ startMs, endMs: window.startMs });
    startMs = Math.max(startMs, window.endMs + BUCKET_MS);
  }
  if (endMs > startMs) ranges.push({ startMs, endMs });
  return ranges;
}

/** Loopback TCP throughput of one connection for `bytes`, the ceiling a state transfer is compared with. */
async function rawTcpMiBPerS(bytes: number): Promise<number> {
  let received = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const server = net.createServer((socket) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= bytes) done();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const chunk = Buffer.alloc(1 << 20, 7);
  const startedMs = performance.now();
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!client.write(chunk)) await new Promise((resolve) => client.once('drain', resolve));
  }
  await finished;
  const elapsedMs = performance.now() - startedMs;
  client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return bytes / MIB / (elapsedMs / 1000);
}

/**
 * Where a move's work runs, and what waits for a core while it runs, by the name their metrics carry:
 * the components of both nodes, and the test bed's own process (the load generator, the reference data
 * plane and both nuclei), which stands in for the clients and the switch.
 */
const COMPONENT_KINDS = {
  Agent: TESTBED_COMPONENTS.peerAgent,
  FunctionHost: TESTBED_COMPONENTS.functionHost,
} as const;
const SCHED_KINDS = ['Agent', 'FunctionHost', 'TestBed'] as const;
export type SchedKind = (typeof SCHED_KINDS)[number];
const KIND_OF_COMPONENT: ReadonlyMap<string, SchedKind> = new Map(
  (Object.keys(COMPONENT_KINDS) as (keyof typeof COMPONENT_KINDS)[]).map((kind) => [
    COMPONENT_KINDS[kind],
    kind,
  ]),
);

export interface SchedReading {
  readonly atMs: number;
  readonly times: Readonly<Record<SchedKind, SchedTimes>>;
}

function readSched(bed: TwoNodeTestbed): SchedReading {
  const times: Record<SchedKind, SchedTimes> = {
    Agent: NO_TIME,
    FunctionHost: NO_TIME,
    TestBed: processSchedTimes('self'),
  };
  for (const { component, cpuMs, waitMs } of bed.componentSchedTimes()) {
    const kind = KIND_OF_COMPONENT.get(component);
    if (kind === undefined) continue;
    times[kind] = { cpuMs: times[kind].cpuMs + cpuMs, waitMs: times[kind].waitMs + waitMs };
  }
  return { atMs: performance.now(), times };
}

/** What `value` grew by during the warm moves, less its rate between moves times their length, per move. */
function beyondIdleRate(
  readings: readonly SchedReading[],
  firstMove: number,
  value: (reading: SchedReading) => number,
): number {
  const moveCount = (readings.length - 1) / 2 - firstMove;
  let movingMs = 0;
  let moving = 0;
  let idleMs = 0;
  let idle = 0;
  for (let move = firstMove; 2 * move + 2 < readings.length; move += 1) {
    const [start, end, next] = [readings[2 * move]!, readings[2 * move + 1]!, readings[2 * move + 2]!];
    movingMs += end.atMs - start.atMs;
    moving += value(end) - value(start);
    idleMs += next.atMs - end.atMs;
    idle += value(next) - value(end);
  }
  return moveCount > 0 && idleMs > 0 ? (moving - (idle / idleMs) * movingMs) / moveCount : 0;
}

/**
 * What a move costs, per kind: the CPU used during the warm moves, and the time spent waiting for a
 * core, each less its rate between moves (the requests served anyway), per move. The wait is the
 * contention a move adds: the function hosts' and the test bed's is latency their requests saw.
 * `readings` pairs each move's start and end, then one reading after the last pause.
 */
export function schedPerMove(
  readings: readonly SchedReading[],
  firstMove: number,
): Record<SchedKind, SchedTimes> {
  const perMove = {} as Record<SchedKind, SchedTimes>;
  for (const kind of SCHED_KINDS) {
    perMove[kind] = {
      cpuMs: beyondIdleRate(readings, firstMove, (reading) => reading.times[kind].cpuMs),
      waitMs: beyondIdleRate(readings, firstMove, (reading) => reading.times[kind].waitMs),
    };
  }
  return perMove;
}

interface SizeRun {
  readonly moves: readonly MigrationResult[];
  readonly perMove: Readonly<Record<SchedKind, SchedTimes>>;
  readonly report: LoadReport;
  readonly windows: readonly TimeRange[];
  readonly window: LatencySummary;
  /** The moves after the first in each direction, whose code paths have run once on both nodes. */
  readonly warmWindow: LatencySummary;
  readonly steady: LatencySummary;
  /** Sham windows after the warm moves, where nothing happens (undefined when moves outlast a pause). */
  readonly warmSham: LatencySummary | undefined;
}

const PAUSE_MS = 2000;
const MOVE_MARK = 'move';
const SHAM_MARK = 'sham';
/** After a move, before its sham window: what the move left running (commit, collections) settles. */
const SHAM_DELAY_MS = 500;

/**
 * The pause after a move, with a sham window as long as the move in it when one fits: nothing happens
 * in it, so the p99 of its requests over the steady p99 is the ratio's noise floor, measured the same
 * way and in the same run as the moves' (a few hundred requests against thousands).
 */
async function shamWindowIn(pauseMs: number, moveMs: number, generator: LoadGeneratorWorker): Promise<void> {
  if (SHAM_DELAY_MS + moveMs + BUCKET_MS * 2 > pauseMs) return pause(pauseMs);
  await pause(SHAM_DELAY_MS);
  generator.mark(SHAM_MARK);
  await pause(moveMs);
  generator.mark(`${SHAM_MARK} end`);
  await pause(pauseMs - SHAM_DELAY_MS - moveMs);
}

/** Markers come in pairs, a window's start and its end: the moves', and the sham windows'. */
export function windowsOf(markers: readonly PlotMarker[]): {
  moveWindows: TimeRange[];
  shamWindows: TimeRange[];
} {
  const moveWindows: TimeRange[] = [];
  const shamWindows: TimeRange[] = [];
  for (let index = 0; index + 1 < markers.length; index += 2) {
    const [start, end] = [markers[index]!, markers[index + 1]!];
    const windows = start.label === SHAM_MARK ? shamWindows : moveWindows;
    windows.push({ startMs: start.atMs, endMs: end.atMs });
  }
  return { moveWindows, shamWindows };
}

/** The first move each way runs the migration code for the first time on each node (JIT, codecs). */
const COLD_MOVES = 2;

async function runSize(stateBytes: number, moveCount: number): Promise<SizeRun> {
  const { bed, generator, close } = await startLoadedTestbed(stateBytes);
  try {
    const moves: MigrationResult[] = [];
    const schedReadings: SchedReading[] = [];
    await pause(2500);
    for (let index = 0; index < moveCount; index += 1) {
      const to: NodeName = index % 2 === 0 ? 'node-b' : 'node-a';
      generator.mark(`${MOVE_MARK} to ${to}`);
      schedReadings.push(readSched(bed));
      const startedMs = performance.now();
      const move = await bed.migrate('sensor-stats', to);
      const moveMs = performance.now() - startedMs;
      schedReadings.push(readSched(bed));
      generator.mark(`${to} owns`);
      if (move.outcome !== 'committed')
        throw new Error(`move to ${to} aborted: ${JSON.stringify(move.abortReason)}`);
      moves.push(move);
      await shamWindowIn(PAUSE_MS, moveMs, generator);
    }
    schedReadings.push(readSched(bed));
    generator.stop();
    const report = await generator.report;
    const { moveWindows: windows, shamWindows } = windowsOf(report.markers);
    const endMs = report.buckets.length * report.bucketMs;
    return {
      moves,
      perMove: schedPerMove(schedReadings, COLD_MOVES),
      report,
      windows,
      window: await generator.latencyWithin(windows),
      warmWindow: await generator.latencyWithin(windows.slice(COLD_MOVES)),
      warmSham:
        shamWindows.length > COLD_MOVES
          ? await generator.latencyWithin(shamWindows.slice(COLD_MOVES))
          : undefined,
      steady: await generator.latencyWithin(steadyRanges(windows, endMs)),
    };
  } finally {
    await close();
  }
}

function sizeMetrics(prefix: string, run: SizeRun): Metrics {
  const cutover = run.moves.map((move) => move.cutoverMs);
  const freeze = run.moves.map((move) => move.freezeWindowMs);
  const frozen = run.moves.map((move) => move.serviceFrozenMs);
  const throughput = run.moves.map((move) => move.snapshotBytes / MIB / (move.transferMs / 1000));
  const { window, warmWindow, steady } = run;
  const overSteady = (p99Ms: number): number => (steady.p99Ms > 0 ? p99Ms / steady.p99Ms : 0);
  return {
    [`${prefix}StateBytes`]: median(run.moves.map((move) => move.snapshotBytes)),
    [`${prefix}CutoverP50Ms`]: median(cutover),
    [`${prefix}CutoverMaxMs`]: Math.max(...cutover),
    [`${prefix}FreezeP50Ms`]: median(freeze),
    [`${prefix}FreezeMaxMs`]: Math.max(...freeze),
    [`${prefix}ServiceFrozenP50Ms`]: median(frozen),
    [`${prefix}ServiceFrozenMaxMs`]: Math.max(...frozen),
    [`${prefix}MoveTotalP50Ms`]: median(run.moves.map((move) => move.totalMs)),
    [`${prefix}DeltaBytesP50`]: median(run.moves.map((move) => move.deltaBytes)),
    [`${prefix}DeltaRoundsP50`]: median(run.moves.map((move) => move.deltaRounds)),
    [`${prefix}TransferMiBPerS`]: median(throughput),
    [`${prefix}LostRequests`]: run.report.totals.lost,
    [`${prefix}DuplicateReplies`]: run.report.totals.duplicates,
    [`${prefix}WrongStateReplies`]: run.report.totals.wrongState,
    [`${prefix}WindowRequests`]: window.count,
    [`${prefix}WindowP50Ms`]: window.p50Ms,
    [`${prefix}SteadyP50Ms`]: steady.p50Ms,
    [`${prefix}WindowP99Ms`]: window.p99Ms,
    [`${prefix}SteadyP99Ms`]: steady.p99Ms,
    [`${prefix}WindowOverSteadyP99`]: overSteady(window.p99Ms),
    [`${prefix}WindowMaxMs`]: window.maxMs,
    [`${prefix}WarmWindowP99Ms`]: warmWindow.p99Ms,
    [`${prefix}WarmWindowOverSteadyP99`]: overSteady(warmWindow.p99Ms),
    ...(run.warmSham === undefined
      ? {}
      : {
          [`${prefix}WarmShamP99Ms`]: run.warmSham.p99Ms,
          [`${prefix}WarmShamOverSteadyP99`]: overSteady(run.warmSham.p99Ms),
        }),
    ...Object.fromEntries(
      SCHED_KINDS.flatMap((kind) => [
        [`${prefix}${kind}CpuMsPerMove`, run.perMove[kind].cpuMs],
        [`${prefix}${kind}WaitMsPerMove`, run.perMove[kind].waitMs],
      ]),
    ),
  };
}

export const benchmark: Benchmark = {
  name: 'migration',
  description:
    'sensor-stats moved A<->B on the two-node test bed under 300 req/s, 1 MiB and 64 MiB of state (in-network cutover)',
  async run(context) {
    await sharedArtifactDir();
    const moveCount = context.isQuick ? COLD_MOVES + 1 : COLD_MOVES + 4;
    const small = await runSize(1 * MIB, moveCount);
    const large = await runSize(64 * MIB, context.isQuick ? COLD_MOVES + 1 : COLD_MOVES + 2);
    const rawMiBPerS = await rawTcpMiBPerS(256 * MIB);
    const firstMove = large.windows[0];
    if (firstMove !== undefined) {
      // One move: up to 3 s after it, and never into the next one.
      const endMs = Math.min(firstMove.endMs + 3000, (large.windows[1]?.startMs ?? Infinity) - 200);
      await mkdir(path.dirname(PLOT_PATH), { recursive: true });
      await writeFile(
        PLOT_PATH,
        renderLatencySvg({
          buckets: large.report.buckets.filter((bucket) => bucket.startMs <= endMs),
          markers: large.report.markers.filter((marker) => marker.atMs <= endMs),
          title: 'sensor-stats, 64 MiB, one move under 300 req/s (in-network cutover)',
        }),
      );
    }
    const largeMetrics = sizeMetrics('mib64', large);
    return {
      ...sizeMetrics('mib1', small),
      ...largeMetrics,
      rawTcpMiBPerS: rawMiBPerS,
      mib64TransferOverRawTcpPercent: ((largeMetrics.mib64TransferMiBPerS ?? 0) / rawMiBPerS) * 100,
    };
  },
};
