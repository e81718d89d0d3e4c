// The socket-level adapter of the reference data plane, for machines with no P4 switch: binds the
// data plane's address:7700 and every service VIP:port, wraps each datagram into a frame
// (ingress port = the switch port of the sender's node, else the uplink port), runs the same
// ReferencePipeline, and sends each output frame's UDP payload to its IPv4 destination from the
// socket bound to its source (ADVICE, CLAIM answers, replies from the VIP) or, for a request steered
// to a node, from a per-client upstream socket whose replies map back to that client (NAT-like).
// Invariant: one synchronous pipeline pass per datagram; no socket operation blocks the event loop.
import dgram from 'node:dgram';
import { EdgeShiftError } from '../../components/common/errors.ts';
import { createLogger, type Logger } from '../../components/common/logger.ts';
import { EDGESHIFT_UDP_PORT, UDP_HEADER_BYTES } from '../protocol/edgeshift-protocol.ts';
import { buildUdpFrame, formatIpv4, parseIpv4 } from '../protocol/udp-frame.ts';
import { FIELD, UDP_OFFSET } from './frame-parser.ts';
import type { PipelineOutput, ReferencePipeline } from './pipeline.ts';

export interface RelayNode {
  readonly ipv4: string;
  readonly mac: string;
  /** The node's switch port: METRICS and CLAIM from it must arrive on this port. */
  readonly port: number;
}

export interface RelayService {
  readonly vip: string;
  readonly port: number;
}

export interface RelayEndpoints {
  /** Address of the data plane: METRICS and CLAIM go to it on port 7700; upstream sockets bind to it. */
  readonly dataPlaneAddress: string;
  readonly controlPort?: number;
  readonly dataPlaneMac: string;
  /** Switch port of a sender that is not a node and that no uplink route covers. */
  readonly uplinkPort: number;
  /** Routes towards clients: a sender that is not a node enters on the port of the longest match. */
  readonly uplinkRoutes?: readonly {
    readonly prefix: number;
    readonly prefixLength: number;
    readonly port: number;
  }[];
  readonly uplinkMac: string;
  readonly nodes: readonly RelayNode[];
  readonly services: readonly RelayService[];
}

export interface UdpRelayOptions {
  readonly pipeline: ReferencePipeline;
  readonly endpoints: RelayEndpoints;
  readonly logger?: Logger;
  /** Microseconds for the pipeline's timestamp; wall clock since the relay started by default (as BMv2). */
  readonly nowUs?: () => bigint;
  /** An upstream flow with no datagram for this long is closed. */
  readonly flowIdleMs?: number;
  /** At most this many upstream flows; the least recently used is closed beyond. */
  readonly maxFlows?: number;
}

export interface RelayStats {
  readonly datagramsIn: number;
  readonly datagramsOut: number;
  /** Outputs with no socket to send them from (e.g. a reply whose source is not a VIP). */
  readonly unroutable: number;
  readonly activeFlows: number;
}

interface FrontSocket {
  readonly socket: dgram.Socket;
  readonly address: string;
  readonly port: number;
}

interface Flow {
  readonly key: string;
  readonly socket: dgram.Socket;
  readonly clientAddress: string;
  readonly clientPort: number;
  lastUsedMs: number;
}

const DEFAULT_FLOW_IDLE_MS = 60_000;
const DEFAULT_MAX_FLOWS = 4096;

export class UdpRelay {
  private readonly pipeline: ReferencePipeline;
  private readonly endpoints: RelayEndpoints;
  private readonly logger: Logger;
  private readonly nowUs: () => bigint;
  private readonly flowIdleMs: number;
  private readonly maxFlows: number;
  private readonly nodesByAddress: ReadonlyMap<string, RelayNode>;
  private readonly fronts = new Map<string, FrontSocket>();
  private readonly flows = new Map<string, Flow>();
  private readonly uplinkPortCache = new Map<string, number>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private isClosed = false;
  private counts = { datagramsIn: 0, datagramsOut: 0, unroutable: 0 };

  private constructor(options: UdpRelayOptions) {
    this.pipeline = options.pipeline;
    this.endpoints = options.endpoints;
    this.logger = options.logger ?? createLogger('udp-relay');
    const startNs = process.hrtime.bigint();
    this.nowUs = options.nowUs ?? (() => (process.hrtime.bigint() - startNs) / 1000n);
    this.flowIdleMs = options.flowIdleMs ?? DEFAULT_FLOW_IDLE_MS;
    this.maxFlows = options.maxFlows ?? DEFAULT_MAX_FLOWS;
    this.nodesByAddress = new Map(options.endpoints.nodes.map((node) => [node.ipv4, node]));
  }

  /** Binds the control socket and every service socket; fails with ERR_DATAPLANE_BIND_FAILED, binding nothing. */
  static async start(options: UdpRelayOptions): Promise<UdpRelay> {
    const relay = new UdpRelay(options);
    const { dataPlaneAddress, controlPort = EDGESHIFT_UDP_PORT, services } = options.endpoints;
    try {
      await relay.bindFront(dataPlaneAddress, controlPort);
      for (const service of services) await relay.bindFront(service.vip, service.port);
    } catch (err) {
      await relay.close();
      throw err;
    }
    relay.sweepTimer = setInterval(() => relay.sweepIdleFlows(), Math.max(1000, relay.flowIdleMs / 2));
    relay.sweepTimer.unref();
    relay.logger.info('relay listening', {
      control: `${dataPlaneAddress}:${controlPort}`,
      services: services.map((service) => `${service.vip}:${service.port}`),
    });
    return relay;
  }

  stats(): RelayStats {
    return { ...this.counts, activeFlows: this.flows.size };
  }

  /** Closes every socket; idempotent. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    const sockets = [
      ...[...this.fronts.values()].map((front) => front.socket),
      ...[...this.flows.values()].map((flow) => flow.socket),
    ];
    this.fronts.clear();
    this.flows.clear();
    await Promise.all(sockets.map((socket) => closeSocket(socket)));
  }

  private async bindFront(address: string, port: number): Promise<void> {
    const socket = dgram.createSocket('udp4');
    const front: FrontSocket = { socket, address, port };
    this.fronts.set(`${address}:${port}`, front);
    try {
      await bindSocket(socket, address, port);
    } catch (err) {
      throw new EdgeShiftError(
        'ERR_DATAPLANE_BIND_FAILED',
        `cannot bind UDP ${address}:${port}: ${(err as Error).message}`,
        {
          context: { address, port },
          cause: err,
        },
      );
    }
    socket.on('message', (message, remote) => this.onFrontDatagram(front, message, remote));
    socket.on('error', (err) => this.logger.warn('socket error', { socket: `${address}:${port}`, err }));
  }

  private onFrontDatagram(front: FrontSocket, message: Buffer, remote: dgram.RemoteInfo): void {
    const outputs = this.runPipeline(message, remote.address, remote.port, front.address, front.port);
    for (const output of outputs) this.deliver(output, front);
  }

  private onUpstreamDatagram(flow: Flow, message: Buffer, remote: dgram.RemoteInfo): void {
    flow.lastUsedMs = Date.now();
    const outputs = this.runPipeline(
      message,
      remote.address,
      remote.port,
      flow.clientAddress,
      flow.clientPort,
    );
    for (const output of outputs) this.deliver(output, undefined);
  }

  private runPipeline(
    payload: Buffer,
    srcIp: string,
    srcPort: number,
    dstIp: string,
    dstPort: number,
  ): PipelineOutput[] {
    this.counts.datagramsIn += 1;
    const node = this.nodesByAddress.get(srcIp);
    let frame: Buffer;
    try {
      frame = buildUdpFrame({
        srcMac: node?.mac ?? this.endpoints.uplinkMac,
        dstMac: this.endpoints.dataPlaneMac,
        srcIp,
        dstIp,
        srcPort,
        dstPort,
        payload,
        udpChecksum: 'zero',
      });
    } catch (err) {
      this.logger.debug('datagram not framed', { srcIp, err });
      return [];
    }
    return this.pipeline.process(frame, node?.port ?? this.uplinkPortFor(srcIp), this.nowUs());
  }

  /** The port a switch would have received a client's packet on: the port of its longest-prefix route. */
  private uplinkPortFor(address: string): number {
    const cached = this.uplinkPortCache.get(address);
    if (cached !== undefined) return cached;
    const value = parseIpv4(address);
    let best: { prefixLength: number; port: number } | undefined;
    for (const route of this.endpoints.uplinkRoutes ?? []) {
      const divisor = 2 ** (32 - route.prefixLength);
      const isMatch = Math.floor(value / divisor) === Math.floor(route.prefix / divisor);
      if (isMatch && (best === undefined || route.prefixLength > best.prefixLength)) best = route;
    }
    const port = best?.port ?? this.endpoints.uplinkPort;
    if (this.uplinkPortCache.size < this.maxFlows) this.uplinkPortCache.set(address, port);
    return port;
  }

  /**
   * Sends an output frame's payload from the socket bound to its source; a request steered to a node
   * (its source is still the client) goes from the client's upstream socket, created on first use.
   */
  private deliver(output: PipelineOutput, requestFront: FrontSocket | undefined): void {
    const frame = output.frame;
    const srcIp = formatIpv4(frame.readUInt32BE(FIELD.ipv4Src));
    const dstIp = formatIpv4(frame.readUInt32BE(FIELD.ipv4Dst));
    const srcPort = frame.readUInt16BE(FIELD.udpSrcPort);
    const dstPort = frame.readUInt16BE(FIELD.udpDstPort);
    const payloadEnd = UDP_OFFSET + frame.readUInt16BE(FIELD.udpLength);
    const payload = frame.subarray(UDP_OFFSET + UDP_HEADER_BYTES, payloadEnd);
    const front = this.fronts.get(`${srcIp}:${srcPort}`);
    const socket =
      front?.socket ??
      (requestFront === undefined ? undefined : this.flowFor(srcIp, srcPort, requestFront).socket);
    if (socket === undefined) {
      this.counts.unroutable += 1;
      this.logger.debug('output with no socket to send from', {
        srcIp,
        srcPort,
        dstIp,
        dstPort,
        port: output.port,
      });
      return;
    }
    this.counts.datagramsOut += 1;
    socket.send(payload, dstPort, dstIp, (err) => {
      if (err) this.logger.warn('send failed', { dstIp, dstPort, err });
    });
  }

  private flowFor(clientAddress: string, clientPort: number, front: FrontSocket): Flow {
    const key = `${clientAddress}:${clientPort}>${front.address}:${front.port}`;
    const existing = this.flows.get(key);
    if (existing !== undefined) {
      // Re-inserted so the Map's order stays least recently used first (eviction takes the first).
      this.flows.delete(key);
      this.flows.set(key, existing);
      existing.lastUsedMs = Date.now();
      return existing;
    }
    if (this.flows.size >= this.maxFlows) this.closeFlow(this.flows.keys().next().value ?? '');
    const socket = dgram.createSocket('udp4');
    const flow: Flow = { key, socket, clientAddress, clientPort, lastUsedMs: Date.now() };
    // dgram queues sends issued while the bind is in progress.
    socket.bind({ address: this.endpoints.dataPlaneAddress, port: 0 });
    socket.on('message', (message, remote) => this.onUpstreamDatagram(flow, message, remote));
    socket.on('error', (err) => {
      this.logger.warn('upstream socket error', { flow: key, err });
      this.closeFlow(key);
    });
    this.flows.set(key, flow);
    return flow;
  }

  private closeFlow(key: string): void {
    const flow = this.flows.get(key);
    if (flow === undefined) return;
    this.flows.delete(key);
    void closeSocket(flow.socket);
  }

  private sweepIdleFlows(): void {
    const oldestAllowedMs = Date.now() - this.flowIdleMs;
    for (const flow of [...this.flows.values()])
      if (flow.lastUsedMs < oldestAllowedMs) this.closeFlow(flow.key);
  }
}

function bindSocket(socket: dgram.Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}
