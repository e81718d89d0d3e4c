// The node monitor: each period it samples the load source, smooths it (EWMA), sends one METRICS packet
// to the data plane, publishes the report as JSON through an optional local-publish function, and
// forwards ADVICE it receives to the peer agent. Used by node-monitor-component.ts and scripts/run-monitor.ts.
// Invariants: samples never overlap; sequence +1 per packet from a wall-clock start; no restart to reconfigure.
import type { RemoteInfo } from 'node:dgram';
import { isIP } from 'node:net';

import { decodeHeader } from '../../p4/protocol/edgeshift-header.ts';
import { LOAD_SCALE_BP, PacketType } from '../../p4/protocol/edgeshift-protocol.ts';
import { EdgeShiftError } from '../common/errors.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import { Ewma, ratioToBasisPoints } from './ewma.ts';
import { systemClock, type LoadSample, type LoadSampler, type MonotonicClock } from './load-sample.ts';
import {
  clampInflightRequests,
  encodeMetricsPacket,
  initialSequence,
  metricsTopicOf,
  nextSequence,
  type MetricsReport,
} from './metrics-report.ts';
import { MetricsSocket, type SocketBinding } from './metrics-socket.ts';
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
  /** True while the function host prepares to stop: the node then announces full load. */
  readonly isDrainingProvider?: () => boolean;
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
  readonly advicesForwarded: number;
  /** Datagrams received that were not ADVICE from the data plane, or ADVICE with nowhere to go. */
  readonly datagramsDropped: number;
}

type FailureCounter = 'sendErrors' | 'sampleErrors' | 'publishErrors';
type MonitorState = 'idle' | 'running' | 'closed';

/** Log the first failure of a kind and then every Nth, so a broken source does not flood the log. */
const LOG_EVERY_NTH_FAILURE = 100;

function bindingOf(config: NodeMonitorConfig): SocketBinding {
  return {
    dataPlaneAddress: config.dataPlane.address,
    sourceAddress: config.dataPlane.sourceAddress,
    sourcePort: config.dataPlane.sourcePort,
  };
}

export class NodeMonitor {
  private config: NodeMonitorConfig;
  private readonly clock: MonotonicClock;
  private readonly wallClockMs: () => number;
  private readonly samplerFactory: (source: LoadSourceConfig, clock: MonotonicClock) => LoadSampler;
  private readonly logger: Logger;
  private readonly scheduler: TickScheduler;
  private sampler: LoadSampler;
  private socket: MetricsSocket | undefined;
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
    advicesForwarded: 0,
    datagramsDropped: 0,
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

  /** The local UDP port METRICS leave from and ADVICE arrives at (undefined before start). */
  get localPort(): number | undefined {
    return this.socket?.localPort;
  }

  /** Binds the UDP socket, takes a first sample (so the first packet has a CPU interval), starts ticking. */
  async start(): Promise<void> {
    if (this.state !== 'idle') {
      throw new EdgeShiftError('ERR_MONITOR_CLOSED', `cannot start a monitor that is ${this.state}`);
    }
    this.state = 'running';
    this.socket = await this.openSocket(this.config);
    await this.primeSampler();
    this.scheduler.start();
    this.logger.info('node monitor started', {
      nodeId: this.config.nodeId,
      thingName: this.thingName,
      periodMs: this.config.periodMs,
      source: this.config.source.kind,
      dataPlane: `${this.config.dataPlane.address}:${this.config.dataPlane.port}`,
      localPort: this.localPort,
      firstSequence: this.sequence,
    });
  }

  /** Applies a validated configuration without restart: period, source, smoothing, addresses, node id. */
  async reconfigure(next: NodeMonitorConfig): Promise<void> {
    if (this.state === 'closed') {
      throw new EdgeShiftError('ERR_MONITOR_CLOSED', 'cannot reconfigure a closed monitor');
    }
    const previous = this.config;
    if (this.socket !== undefined && !this.socket.fits(bindingOf(next))) {
      // Bind the new socket first: if its address is refused, nothing of the update applies.
      const fresh = await this.openSocket(next);
      const old = this.socket;
      this.socket = fresh;
      await old.close();
    }
    this.config = next;
    this.cpuEwma.setTimeConstantMs(next.smoothingTimeConstantMs);
    this.memEwma.setTimeConstantMs(next.smoothingTimeConstantMs);
    if (JSON.stringify(previous.source) !== JSON.stringify(next.source)) await this.switchSource(next.source);
    if (previous.periodMs !== next.periodMs) this.scheduler.setPeriodMs(next.periodMs);
    this.logger.info('node monitor reconfigured', {
      nodeId: next.nodeId,
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
    await socket?.close();
    this.logger.info('node monitor closed', { ...this.stats });
  }

  private openSocket(config: NodeMonitorConfig): Promise<MetricsSocket> {
    return MetricsSocket.open(bindingOf(config), (bytes, from) => this.onDatagram(bytes, from), this.logger);
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
    let sample: LoadSample;
    try {
      sample = await sampler.sample();
    } catch (err) {
      this.noteFailure('sampleErrors', 'load source failed', err);
      return;
    }
    // A sample of a source replaced meanwhile must not feed the new source's smoothing.
    if (this.state !== 'running' || sampler !== this.sampler) return;
    const nowMs = this.clock.nowMs();
    const intervalMs = this.lastSampleAtMs === undefined ? this.config.periodMs : nowMs - this.lastSampleAtMs;
    this.lastSampleAtMs = nowMs;
    if (sample.cpuLoadRatio !== null) this.cpuEwma.update(sample.cpuLoadRatio, intervalMs);
    this.memEwma.update(sample.memLoadRatio, intervalMs);
    const report = this.buildReport(sample);
    this.latestReport = report;
    this.sequence = nextSequence(this.sequence);
    this.publishLocally(report);
    await this.send(report);
  }

  private buildReport(sample: LoadSample): MetricsReport {
    const inflight = this.options.inflightRequestsProvider?.() ?? this.config.inflightRequests;
    // Full load sends the data plane's balanced requests to the other node of each pair while the
    // function host stops; the smoothing goes on underneath, so the real load returns at once after.
    const isDraining = this.options.isDrainingProvider?.() === true;
    return {
      nodeId: this.config.nodeId,
      thingName: this.thingName,
      sequence: this.sequence,
      timestampMs: this.wallClockMs(),
      cpuLoadBp: isDraining ? LOAD_SCALE_BP : ratioToBasisPoints(this.cpuEwma.value ?? 0),
      memLoadBp: isDraining ? LOAD_SCALE_BP : ratioToBasisPoints(this.memEwma.value ?? 0),
      inflightRequests: clampInflightRequests(inflight),
      rawCpuLoadRatio: sample.cpuLoadRatio,
      rawMemLoadRatio: sample.memLoadRatio,
    };
  }

  private async send(report: MetricsReport): Promise<void> {
    const { address, port } = this.config.dataPlane;
    const err = await this.socket?.send(encodeMetricsPacket(report), address, port);
    if (err === undefined) return;
    if (err === null) this.counters.packetsSent += 1;
    else this.noteFailure('sendErrors', 'METRICS packet not sent', err);
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

  /** ADVICE from the data plane goes on, unchanged, to the peer agent; anything else is dropped. */
  private onDatagram(bytes: Buffer, from: RemoteInfo): void {
    const { dataPlane, adviceForward } = this.config;
    const decoded = decodeHeader(bytes);
    // A data plane named by host name cannot be compared with the sender's address.
    const isFromDataPlane =
      isIP(dataPlane.address) === 0 || (from.address === dataPlane.address && from.port === dataPlane.port);
    const socket = this.socket;
    if (
      !decoded.ok ||
      decoded.header.type !== PacketType.ADVICE ||
      !isFromDataPlane ||
      adviceForward === undefined ||
      socket === undefined
    ) {
      this.counters.datagramsDropped += 1;
      return;
    }
    this.logger.info('forwarding ADVICE to the peer agent', { ...decoded.header });
    void socket.send(bytes, adviceForward.address, adviceForward.port).then((err) => {
      if (err === null) this.counters.advicesForwarded += 1;
      else this.noteFailure('sendErrors', 'ADVICE not forwarded', err);
    });
  }

  private noteFailure(counter: FailureCounter, message: string, err: unknown): void {
    this.counters[counter] += 1;
    const count = this.counters[counter];
    if (count === 1 || count % LOG_EVERY_NTH_FAILURE === 0) this.logger.error(message, { err, count });
  }
}
