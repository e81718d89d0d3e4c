// Open-loop UDP load generator for the request path: sends FunctionRequests to a service's address at
// a constant rate from a schedule (open-loop-schedule.ts) over many keys and a few sockets, checks
// every reply (reply-checker.ts) and accounts latency per time bucket (latency-timeline.ts).
// Invariant: a request is sent when it is due whatever the replies do; late replies cost latency,
// never requests. The CLI (cli.ts) and benchmarks drive it; the service's semantics come in as a StateChecker.

import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { performance } from 'node:perf_hooks';
import { EdgeShiftError } from '../../components/common/errors.ts';
import { encodeMessage, parseReply } from '../../components/function-host/request-wire.ts';
import { createSchedule, dueRequestCount, scheduledSendTimeMs } from './open-loop-schedule.ts';
import type { OpenLoopSchedule } from './open-loop-schedule.ts';
import { ReplyChecker } from './reply-checker.ts';
import type { ReplyOutcome, StateChecker, TrackedRequest } from './reply-checker.ts';
import { LatencyTimeline } from './latency-timeline.ts';
import type { BucketSummary, FaultCounts, FaultKind, LatencySummary, TimeRange } from './latency-timeline.ts';
import type { PlotMarker } from '../plot/latency-plot.ts';

export interface LoadGeneratorOptions {
  readonly target: { readonly host: string; readonly port: number };
  readonly service: string;
  readonly rateHz: number;
  readonly durationMs: number;
  readonly keyCount: number;
  /** Width of a timeline bucket (default 100 ms). */
  readonly bucketMs?: number;
  /** A request with no reply this long after it was sent is lost (default 1000 ms). */
  readonly replyDeadlineMs?: number;
  /** After the last reply, how long to keep listening for duplicates (default 200 ms). */
  readonly lingerMs?: number;
  /** UDP sockets to spread requests over, round robin (default 1). */
  readonly socketCount?: number;
  /** Prefix of request ids, unique per generator (default random). */
  readonly clientId?: string;
  /** Name of key number n (default `sensor-<n>`); keys are used round robin. */
  readonly keyName?: (keyNumber: number) => string;
  /** Request body for a key's keyIndex-th request (default `{ sensorId: key, value }`, a deterministic reading). */
  readonly makeBody?: (key: string, keyIndex: number) => unknown;
  readonly checkState?: StateChecker;
  /** Monotonic clock in ms (default performance.now); injectable for tests of the arithmetic. */
  readonly now?: () => number;
  /** Called about every bucket with counts so far (progress bars). */
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Ends the schedule early when aborted: nothing more is sent, replies to what was sent are awaited. */
  readonly signal?: AbortSignal;
}

export interface LoadProgress {
  readonly scheduled: number;
  readonly sent: number;
  readonly replied: number;
  readonly lost: number;
}

export interface FaultRecord {
  readonly kind: FaultKind | 'unexpected' | 'invalid';
  readonly id?: string;
  readonly key?: string;
  readonly detail?: string;
  /** ms after the run's start. */
  readonly atMs: number;
}

export interface LoadReport {
  readonly target: string;
  readonly service: string;
  readonly rateHz: number;
  readonly durationMs: number;
  readonly keyCount: number;
  readonly bucketMs: number;
  readonly replyDeadlineMs: number;
  /** Wall-clock start (ms since the epoch): convert event timestamps to plot markers with it. */
  readonly startedAtEpochMs: number;
  readonly totals: Readonly<FaultCounts> & {
    readonly scheduled: number;
    readonly unexpected: number;
    readonly invalid: number;
    readonly sendErrors: number;
  };
  /** True when options.signal ended the schedule before totals.scheduled were sent. */
  readonly stoppedEarly: boolean;
  /** Sent requests per second between the first and the last send. */
  readonly achievedRateHz: number;
  readonly latency: { readonly fromScheduled: LatencySummary; readonly fromSent: LatencySummary };
  /** Actual send time minus scheduled send time: how well the generator kept its schedule. */
  readonly scheduleLag: LatencySummary;
  readonly nodes: Readonly<Record<string, number>>;
  readonly buckets: readonly BucketSummary[];
  /** The first MAX_FAULT_RECORDS faults, for diagnosis; totals count all. */
  readonly faults: readonly FaultRecord[];
  /** Events recorded with mark() during the run, in order. */
  readonly markers: readonly PlotMarker[];
}

export const MAX_FAULT_RECORDS = 200;
const TICK_MS = 1;
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024; // capped by net.core.rmem_max

function checkOptions(options: LoadGeneratorOptions): void {
  const positive: Array<[string, number | undefined]> = [
    ['rateHz', options.rateHz],
    ['durationMs', options.durationMs],
    ['keyCount', options.keyCount],
    ['bucketMs', options.bucketMs],
    ['replyDeadlineMs', options.replyDeadlineMs],
    ['socketCount', options.socketCount],
  ];
  for (const [name, value] of positive) {
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      throw new EdgeShiftError(
        'ERR_LOADGEN_INVALID_OPTION',
        `${name} must be a positive number, instead got ${value}`,
        {
          context: { option: name },
        },
      );
    }
  }
  const { port } = options.target;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new EdgeShiftError(
      'ERR_LOADGEN_INVALID_OPTION',
      `target port must be 1-65535, instead got ${port}`,
      {
        context: { option: 'target' },
      },
    );
  }
}

/** A deterministic reading (0-99.9) per key and index, so two runs send the same values. */
export function readingValue(key: string, keyIndex: number): number {
  return ((keyIndex * 7919 + key.length * 104_729) % 1000) / 10;
}

function defaultBody(key: string, keyIndex: number): unknown {
  return { sensorId: key, value: readingValue(key, keyIndex) };
}

export class LoadGenerator {
  readonly #options: LoadGeneratorOptions;
  readonly #now: () => number;
  readonly #clientId: string;
  readonly #keyNames: string[];
  readonly #keySent: number[];
  readonly #faults: FaultRecord[] = [];
  #unexpected = 0;
  #invalid = 0;
  #sendErrors = 0;
  #hasRun = false;
  #timeline: LatencyTimeline | undefined;
  // Events as clock readings; placed on the run's axis when the report is made, so a mark taken
  // while run() is still resolving the target is kept (at a negative or zero offset).
  readonly #marks: Array<{ atClockMs: number; label: string }> = [];

  constructor(options: LoadGeneratorOptions) {
    checkOptions(options);
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#clientId = options.clientId ?? randomBytes(4).toString('hex');
    const keyName = options.keyName ?? ((n: number) => `sensor-${n}`);
    this.#keyNames = Array.from({ length: options.keyCount }, (_, n) => keyName(n));
    this.#keySent = new Array<number>(options.keyCount).fill(0);
  }

  /** Runs the whole schedule, waits for replies (or their deadline), and reports. Once per instance. */
  async run(): Promise<LoadReport> {
    if (this.#hasRun) {
      throw new EdgeShiftError('ERR_LOADGEN_INVALID_OPTION', 'a LoadGenerator runs once; create a new one', {
        context: { option: 'run' },
      });
    }
    this.#hasRun = true;
    const options = this.#options;
    const address = await this.#resolveTarget();
    const sockets = await this.#openSockets(address.family);
    const startedAtEpochMs = Date.now();
    const schedule = createSchedule(this.#now(), options.rateHz, options.durationMs);
    const timeline = new LatencyTimeline(schedule.startMs, options.bucketMs ?? 100);
    this.#timeline = timeline;
    const checker = new ReplyChecker({
      deadlineMs: options.replyDeadlineMs ?? 1000,
      ...(options.checkState ? { checkState: options.checkState } : {}),
    });
    for (const socket of sockets) {
      socket.on('message', (bytes) => this.#onMessage(bytes, checker, timeline, schedule.startMs));
    }
    try {
      const sendSpan = await this.#sendAll(schedule, sockets, address, checker, timeline);
      await this.#awaitReplies(checker, timeline, schedule.startMs);
      return this.#report(schedule, timeline, startedAtEpochMs, sendSpan);
    } finally {
      await Promise.all(
        sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))),
      );
    }
  }

  /**
   * Latency of the requests scheduled within `ranges` (ms on the report's axis), pooled over them:
   * e.g. every move window of a run against the time between them. Bucket-exact; after run() began.
   */
  latencyWithin(ranges: readonly TimeRange[]): LatencySummary {
    if (this.#timeline === undefined) {
      throw new EdgeShiftError('ERR_LOADGEN_INVALID_OPTION', 'latencyWithin needs a run: call run() first', {
        context: { option: 'latencyWithin' },
      });
    }
    return this.#timeline.latencyWithin(ranges);
  }

  /**
   * Records an event (migration start, freeze, cutover, commit) at this moment; it comes back in
   * LoadReport.markers on the run's time axis (ms after the first scheduled send) and on the plot.
   */
  mark(label: string): void {
    this.#marks.push({ atClockMs: this.#now(), label });
  }

  async #resolveTarget(): Promise<{ address: string; family: 4 | 6 }> {
    const { address, family } = await lookup(this.#options.target.host);
    return { address, family: family === 6 ? 6 : 4 };
  }

  async #openSockets(family: 4 | 6): Promise<dgram.Socket[]> {
    const count = this.#options.socketCount ?? 1;
    return Promise.all(
      Array.from({ length: count }, async () => {
        // A large receive buffer rides out a burst of replies while the loop is busy sending.
        const socket = dgram.createSocket({
          type: family === 6 ? 'udp6' : 'udp4',
          recvBufferSize: RECEIVE_BUFFER_BYTES,
        });
        // A send error (e.g. ICMP unreachable reported late) must not crash the run: it is counted.
        socket.on('error', () => {
          this.#sendErrors += 1;
        });
        await new Promise<void>((resolve) => socket.bind(0, resolve));
        return socket;
      }),
    );
  }

  // Sends each request when due. The timer only wakes the loop; what is sent comes from the
  // schedule, so a late wake-up (event loop stall) sends the backlog at once, each request keeping
  // its scheduled time for the latency it is charged.
  #sendAll(
    schedule: OpenLoopSchedule,
    sockets: dgram.Socket[],
    target: { address: string },
    checker: ReplyChecker,
    timeline: LatencyTimeline,
  ): Promise<{ firstSentAtMs: number; lastSentAtMs: number }> {
    const { port } = this.#options.target;
    const progressEvery = Math.max(1, Math.round((this.#options.bucketMs ?? 100) / TICK_MS));
    let nextIndex = 0;
    let ticks = 0;
    let firstSentAtMs = 0;
    let lastSentAtMs = 0;
    return new Promise((resolve) => {
      const tick = (): void => {
        if (this.#options.signal?.aborted === true) {
          resolve({ firstSentAtMs, lastSentAtMs });
          return;
        }
        const nowMs = this.#now();
        const due = dueRequestCount(schedule, nowMs);
        for (; nextIndex < due; nextIndex += 1) {
          const request = this.#nextRequest(schedule, nextIndex, nowMs);
          checker.track(request);
          timeline.recordSent(request.scheduledAtMs, request.sentAtMs);
          const bytes = encodeMessage({
            id: request.id,
            service: this.#options.service,
            key: request.key,
            body: request.body,
          });
          (sockets[nextIndex % sockets.length] as dgram.Socket).send(bytes, port, target.address, (err) => {
            if (err) this.#sendErrors += 1;
          });
          if (nextIndex === 0) firstSentAtMs = nowMs;
          lastSentAtMs = nowMs;
        }
        this.#expire(checker, timeline, nowMs, schedule.startMs);
        ticks += 1;
        if (ticks % progressEvery === 0) this.#progress(schedule, timeline);
        if (nextIndex >= schedule.totalRequests) {
          resolve({ firstSentAtMs, lastSentAtMs });
          return;
        }
        setTimeout(tick, TICK_MS);
      };
      tick();
    });
  }

  #nextRequest(schedule: OpenLoopSchedule, index: number, nowMs: number): TrackedRequest {
    const keyNumber = index % this.#keyNames.length;
    const key = this.#keyNames[keyNumber] as string;
    const keyIndex = this.#keySent[keyNumber] as number;
    this.#keySent[keyNumber] = keyIndex + 1;
    const body = (this.#options.makeBody ?? defaultBody)(key, keyIndex);
    return {
      id: `${this.#clientId}:${index}`,
      key,
      keyIndex,
      index,
      scheduledAtMs: scheduledSendTimeMs(schedule, index),
      sentAtMs: nowMs,
      body,
    };
  }

  #awaitReplies(checker: ReplyChecker, timeline: LatencyTimeline, startMs: number): Promise<void> {
    const lingerMs = this.#options.lingerMs ?? 200;
    let quietSinceMs: number | undefined;
    return new Promise((resolve) => {
      const poll = (): void => {
        const nowMs = this.#now();
        this.#expire(checker, timeline, nowMs, startMs);
        if (checker.pendingCount > 0) {
          quietSinceMs = undefined;
        } else {
          quietSinceMs ??= nowMs;
          if (nowMs - quietSinceMs >= lingerMs) {
            resolve();
            return;
          }
        }
        setTimeout(poll, 5);
      };
      poll();
    });
  }

  #expire(checker: ReplyChecker, timeline: LatencyTimeline, nowMs: number, startMs: number): void {
    for (const request of checker.expire(nowMs)) {
      timeline.recordFault('lost', request.scheduledAtMs);
      this.#recordFault({ kind: 'lost', id: request.id, key: request.key, atMs: nowMs - startMs });
    }
  }

  #onMessage(bytes: Buffer, checker: ReplyChecker, timeline: LatencyTimeline, startMs: number): void {
    const receivedAtMs = this.#now();
    const atMs = receivedAtMs - startMs;
    const parsed = parseReply(bytes);
    if (!parsed.ok) {
      this.#invalid += 1;
      this.#recordFault({ kind: 'invalid', detail: parsed.reason, atMs });
      return;
    }
    const reply = parsed.value;
    this.#expire(checker, timeline, receivedAtMs, startMs);
    this.#account(checker.onReply(reply), timeline, receivedAtMs, reply.node, atMs, reply.id);
  }

  #account(
    outcome: ReplyOutcome,
    timeline: LatencyTimeline,
    receivedAtMs: number,
    node: string,
    atMs: number,
    id: string,
  ): void {
    if (outcome.kind === 'unexpected') {
      this.#unexpected += 1;
      this.#recordFault({ kind: 'unexpected', id, atMs });
      return;
    }
    const { request } = outcome;
    const fault = (kind: FaultKind, detail?: string): void => {
      timeline.recordFault(kind, request.scheduledAtMs);
      this.#recordFault({ kind, id: request.id, key: request.key, atMs, ...(detail ? { detail } : {}) });
    };
    switch (outcome.kind) {
      case 'duplicate':
        fault('duplicates', `another reply from ${node}`);
        return;
      case 'late':
        fault('late', `reply from ${node} after the deadline`);
        return;
      case 'error':
        timeline.recordReply(request, receivedAtMs, node);
        fault('errors', outcome.detail);
        return;
      case 'answered':
        timeline.recordReply(request, receivedAtMs, node);
        if (outcome.wrongState !== undefined) fault('wrongState', outcome.wrongState);
        return;
    }
  }

  #recordFault(record: FaultRecord): void {
    if (this.#faults.length < MAX_FAULT_RECORDS) this.#faults.push(record);
  }

  #progress(schedule: OpenLoopSchedule, timeline: LatencyTimeline): void {
    const totals = timeline.totals;
    this.#options.onProgress?.({
      scheduled: schedule.totalRequests,
      sent: totals.sent,
      replied: totals.replied,
      lost: totals.lost,
    });
  }

  #report(
    schedule: OpenLoopSchedule,
    timeline: LatencyTimeline,
    startedAtEpochMs: number,
    sendSpan: { firstSentAtMs: number; lastSentAtMs: number },
  ): LoadReport {
    this.#progress(schedule, timeline);
    const options = this.#options;
    const totals = timeline.totals;
    const spanMs = sendSpan.lastSentAtMs - sendSpan.firstSentAtMs;
    return {
      target: `${options.target.host}:${options.target.port}`,
      service: options.service,
      rateHz: options.rateHz,
      durationMs: options.durationMs,
      keyCount: options.keyCount,
      bucketMs: options.bucketMs ?? 100,
      replyDeadlineMs: options.replyDeadlineMs ?? 1000,
      startedAtEpochMs,
      totals: {
        scheduled: schedule.totalRequests,
        ...totals,
        unexpected: this.#unexpected,
        invalid: this.#invalid,
        sendErrors: this.#sendErrors,
      },
      stoppedEarly: totals.sent < schedule.totalRequests,
      achievedRateHz: spanMs > 0 ? ((totals.sent - 1) * 1000) / spanMs : totals.sent,
      latency: { fromScheduled: timeline.latencyFromScheduled, fromSent: timeline.latencyFromSent },
      scheduleLag: timeline.scheduleLag,
      nodes: timeline.nodes,
      buckets: timeline.buckets(),
      faults: [...this.#faults],
      markers: this.#marks.map((mark) => ({ atMs: mark.atClockMs - schedule.startMs, label: mark.label })),
    };
  }
}
