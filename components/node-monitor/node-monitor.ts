// The node monitor: every period it samples the configured load source, smooths CPU and memory with
// an EWMA, sends one METRICS packet (UDP) to the data plane and, when given a local-publish function,
// publishes the same report as JSON on edgeshift/metrics/<thingName>. Usable without Greengrass
// (scripts/run-monitor.ts, tests); main.ts wires it to IPC. Invariants: samples never overlap, the
// sequence number grows by one per packet from a wall-clock start, reconfiguration needs no restart.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

import { EdgeShiftError } from '../common/errors.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import { Ewma, ratioToBasisPoints } from './ewma.ts';
import { systemClock, type LoadSampler, type MonotonicClock } from './load-sample.ts';
import {
  clampInflightRequests,
  encodeMetricsPacket,
  initialSequence,
  metricsTopicOf,
  nextSequence,
  type MetricsReport,
} from './metrics-report.ts';
import {
  createSampler,
  resolveThingName,
  type LoadSourceConfig,
  type NodeMonitorConfig,
} from './node-monitor-config.ts';
import { systemTimer, TickScheduler, type TickCounters, type Timer } from './tick-scheduler.ts';

/** Publishes a JSON document on a Greengrass local topic (IpcClient.publishJson fits). */
export type LocalPublish = (topic: string, value: unknown) => Promise<void>;

export interface NodeMonitorOptions {
  readonly publishLocal?: LocalPublish;
  /** The node's current in-flight requests (e.g. from the function host); undefined → config value. */
  readonly inflightRequestsProvider?: () => number | undefined;
  readonly clock?: MonotonicClock;
  /** Wall clock in ms since the Unix epoch; only the first sequence number and report timestamps use it. */
  readonly wallClockMs?: () => number;
  readonly timer?: Timer;
  readonly samplerFactory?: (source: LoadSourceConfig, clock: MonotonicClock) => LoadSampler;
  readonly logger?: Logger;
  readonly env?: NodeJS.ProcessEnv;
}

export interface NodeMonitorStats extends TickCounters {
  readonly packetsSent: number;
  readonly sendErrors: number;
  readonly sampleErrors: number;
  /** Local publishes skipped because the previous one had not finished. */
  readonly publishesSkipped: number;
  readonly publishErrors: number;
}

type MonitorState = 'idle' | 'running' | 'closed';

/** Log the first failure of a kind and then every Nth, so a broken source does not flood the log. */
const LOG_EVERY_NTH_FAILURE = 100;

export class NodeMonitor {
  private config: NodeMonitorConfig;
  private readonly clock: MonotonicClock;
  private readonly wallClockMs: () => number;
  private readonly samplerFactory: (source: LoadSourceConfig, clock: MonotonicClock) => LoadSampler;
  private readonly logger: Logger;
  private readonly scheduler: TickScheduler;
  private sampler: LoadSampler;
  private socket: Socket | undefined;
  private state: MonitorState = 'idle';
  private sequence: number;
  private cpuEwma: Ewma;
  private memEwma: Ewma;
  private lastSampleAtMs: number | undefined;
  private currentTick: Promise<void> | undefined;
  private pendingPublish: Promise<void> | undefined;
  private latestReport: MetricsReport | undefined;
  private counters = {
    packetsSent: 0,
    sendErrors: 0,
    sampleErrors: 0,
    publishesSkipped: 0,
    publishErrors: 0,
  };

  constructor(
    config: NodeMonitorConfig,
    private readonly options: NodeMonitorOptions = {},
  ) {
    this.config = config;
    this.clock = options.clock ?? systemClock;
    this.wallClockMs = options.wallClockMs ?? Date.now;
    this.samplerFactory = options.samplerFactory ?? createSampler;
    this.logger = options.logger ?? createLogger('node-monitor');
    this.sampler = this.samplerFactory(config.source, this.clock);
    this.sequence = initialSequence(this.wallClockMs());
    this.cpuEwma = new Ewma(config.smoothingTimeConstantMs);
    this.memEwma = new Ewma(config.smoothingTimeConstantMs);
    this.scheduler = new TickScheduler({
      periodMs: config.periodMs,
      clock: this.clock,
      timer: options.timer ?? systemTimer,
      onTick: () => this.trackTick(),
      onError: (err) => this.logger.error('monitor tick failed', { err }),
    });
  }

  get stats(): NodeMonitorStats {
    return { ...this.scheduler.stats, ...this.counters };
  }

  /** The last report sent, for the CLI and tests. */
  get lastReport(): MetricsReport | undefined {
    return this.latestReport;
  }

  get thingName(): string {
    return resolveThingName(this.config, this.options.env);
  }

  /** Opens the UDP socket, takes a first sample (so the first packet has a CPU interval) and starts ticking. */
  async start(): Promise<void> {
    if (this.state !== 'idle')
      throw new EdgeShiftError('ERR_MONITOR_CLOSED', `cannot start a monitor that is ${this.state}`);
    this.state = 'running';
    this.socket = this.openSocket(this.config.dataPlane.address);
    await this.primeSampler();
    this.scheduler.start();
    this.logger.info('node monitor started', {
      nodeId: this.config.nodeId,
      thingName: this.thingName,
      periodMs: this.config.periodMs,
      source: this.config.source.kind,
      dataPlane: `${this.config.dataPlane.address}:${this.config.dataPlane.port}`,
      firstSequence: this.sequence,
    });
  }

  /** Applies a validated configuration without restart: period, source, smoothing, data plane, node id. */
  async reconfigure(next: NodeMonitorConfig): Promise<void> {
    if (this.state === 'closed')
      throw new EdgeShiftError('ERR_MONITOR_CLOSED', 'cannot reconfigure a closed monitor');
    const previous = this.config;
    this.config = next;
    this.cpuEwma.setTimeConstantMs(next.smoothingTimeConstantMs);
    this.memEwma.setTimeConstantMs(next.smoothingTimeConstantMs);
    if (JSON.stringify(previous.source) !== JSON.stringify(next.source)) await this.switchSource(next.source);
    if (this.socket !== undefined && isIPv6(previous.dataPlane.address) !== isIPv6(next.dataPlane.address)) {
      const oldSocket = this.socket;
      this.socket = this.openSocket(next.dataPlane.address);
      oldSocket.close();
    }
    if (previous.periodMs !== next.periodMs) this.scheduler.setPeriodMs(next.periodMs);
    this.logger.info('node monitor reconfigured', {
      periodMs: next.periodMs,
      source: next.source.kind,
      dataPlane: `${next.dataPlane.address}:${next.dataPlane.port}`,
    });
  }

  /** Stops ticking, lets the running tick and local publish finish, then closes the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.scheduler.stop();
    await this.currentTick;
    await this.pendingPublish;
    const socket = this.socket;
    this.socket = undefined;
    if (socket !== undefined) await new Promise<void>((resolve) => socket.close(() => resolve()));
    this.logger.info('node monitor closed', { ...this.stats });
  }

  private openSocket(address: string): Socket {
    const socket = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
    socket.on('error', (err) => this.logger.error('metrics socket error', { err }));
    return socket;
  }

  private async switchSource(source: LoadSourceConfig): Promise<void> {
    this.sampler = this.samplerFactory(source, this.clock);
    this.cpuEwma = new Ewma(this.config.smoothingTimeConstantMs);
    this.memEwma = new Ewma(this.config.smoothingTimeConstantMs);
    this.lastSampleAtMs = undefined;
    await this.primeSampler();
  }

  private async primeSampler(): Promise<void> {
    try {
      await this.sampler.sample();
      this.lastSampleAtMs = this.clock.nowMs();
    } catch (err) {
      this.noteFailure('sampleErrors', 'load source failed', err);
    }
  }

  private trackTick(): Promise<void> {
    const tick = this.tick();
    this.currentTick = tick;
    return tick;
  }

  private async tick(): Promise<void> {
    const sampler = this.sampler;
    let sample;
    try {
      sample = await sampler.sample();
    } catch (err) {
      this.noteFailure('sampleErrors', 'load source failed', err);
      return;
    }
    if (this.state !== 'running' || sampler !== this.sampler) return;
    const nowMs = this.clock.nowMs();
    const intervalMs = this.lastSampleAtMs === undefined ? this.config.periodMs : nowMs - this.lastSampleAtMs;
    this.lastSampleAtMs = nowMs;
    if (sample.cpuLoadRatio !== null) this.cpuEwma.update(sample.cpuLoadRatio, intervalMs);
    this.memEwma.update(sample.memLoadRatio, intervalMs);
    const report = this.buildReport(sample.cpuLoadRatio, sample.memLoadRatio);
    this.latestReport = report;
    this.sequence = nextSequence(this.sequence);
    this.publishLocally(report);
    await this.send(report);
  }

  private buildReport(rawCpuLoadRatio: number | null, rawMemLoadRatio: number): MetricsReport {
    const inflight = this.options.inflightRequestsProvider?.() ?? this.config.inflightRequests;
    return {
      nodeId: this.config.nodeId,
      thingName: this.thingName,
      sequence: this.sequence,
      timestampMs: this.wallClockMs(),
      cpuLoadBp: ratioToBasisPoints(this.cpuEwma.value ?? 0),
      memLoadBp: ratioToBasisPoints(this.memEwma.value ?? 0),
      inflightRequests: clampInflightRequests(inflight),
      rawCpuLoadRatio,
      rawMemLoadRatio,
    };
  }

  private send(report: MetricsReport): Promise<void> {
    const socket = this.socket;
    if (socket === undefined) return Promise.resolve();
    const { address, port } = this.config.dataPlane;
    return new Promise((resolve) => {
      socket.send(encodeMetricsPacket(report), port, address, (err) => {
        if (err === null) this.counters.packetsSent += 1;
        else this.noteFailure('sendErrors', 'METRICS packet not sent', err);
        resolve();
      });
    });
  }

  private publishLocally(report: MetricsReport): void {
    const publish = this.options.publishLocal;
    if (publish === undefined || !this.config.publishLocalTopic) return;
    if (this.pendingPublish !== undefined) {
      this.counters.publishesSkipped += 1;
      return;
    }
    this.pendingPublish = publish(metricsTopicOf(report.thingName), report)
      .catch((err: unknown) => this.noteFailure('publishErrors', 'local metrics publish failed', err))
      .finally(() => {
        this.pendingPublish = undefined;
      });
  }

  private noteFailure(
    counter: 'sendErrors' | 'sampleErrors' | 'publishErrors',
    message: string,
    err: unknown,
  ): void {
    this.counters[counter] += 1;
    const count = this.counters[counter];
    if (count === 1 || count % LOG_EVERY_NTH_FAILURE === 0) this.logger.error(message, { err, count });
  }
}
