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
import {
  EDGESHIFT_UDP_PORT,
  ETHERNET_HEADER_BYTES,
  ETHERTYPE_IPV4,
  IP_PROTOCOL_UDP,
  IPV4_HEADER_BYTES,
  UDP_HEADER_BYTES,
} from '../protocol/edgeshift-protocol.ts';
import { formatIpv4, ipv4HeaderChecksum, parseIpv4, parseMac } from '../protocol/udp-frame.ts';
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
  readonly addressValue: number;
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
const ADDRESS_CACHE_SIZE = 65_536;
// Bursts at thousands of datagrams per second must not overflow the kernel queue while a pass runs.
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

export class UdpRelay {
  private readonly pipeline: ReferencePipeline;
  private readonly endpoints: RelayEndpoints;
  private readonly logger: Logger;
  private readonly nowUs: () => bigint;
  private readonly flowIdleMs: number;
  private readonly maxFlows: number;
  private readonly nodesByAddress: ReadonlyMap<string, RelayNode>;
  /** Bound sockets by IPv4 × 65536 + port (a number: no string building per datagram). */
  private readonly fronts = new Map<number, FrontSocket>();
  private readonly addressCache = new BoundedCache<string, number>(ADDRESS_CACHE_SIZE);
  private readonly addressTextCache = new BoundedCache<number, string>(ADDRESS_CACHE_SIZE);
  private readonly macByAddress: ReadonlyMap<string, Buffer>;
  private readonly uplinkMac: Buffer;
  private readonly dataPlaneMac: Buffer;
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
    this.macByAddress = new Map(
      options.endpoints.nodes.map((node) => [node.ipv4, Buffer.from(parseMac(node.mac))]),
    );
    this.uplinkMac = Buffer.from(parseMac(options.endpoints.uplinkMac));
    this.dataPlaneMac = Buffer.from(parseMac(options.endpoints.dataPlaneMac));
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
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: RECEIVE_BUFFER_BYTES });
    const front: FrontSocket = { socket, address, port, addressValue: parseIpv4(address) };
    this.fronts.set(front.addressValue * 65536 + port, front);
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
    const srcValue = this.addressValue(srcIp);
    const dstValue = this.addressValue(dstIp);
    if (srcValue === undefined || dstValue === undefined) return [];
    const node = this.nodesByAddress.get(srcIp);
    const frame = wrapDatagram(payload, {
      srcMac: this.macByAddress.get(srcIp) ?? this.uplinkMac,
      dstMac: this.dataPlaneMac,
      srcIp: srcValue,
      dstIp: dstValue,
      srcPort,
      dstPort,
    });
    return this.pipeline.process(frame, node?.port ?? this.uplinkPortFor(srcIp), this.nowUs());
  }

  private addressValue(address: string): number | undefined {
    const cached = this.addressCache.get(address);
    if (cached !== undefined) return cached;
    try {
      const value = parseIpv4(address);
      this.addressCache.set(address, value);
      return value;
    } catch {
      return undefined; // an IPv6-mapped or odd source: not something the IPv4 pipeline can carry
    }
  }

  private addressText(value: number): string {
    const cached = this.addressTextCache.get(value);
    if (cached !== undefined) return cached;
    const text = formatIpv4(value);
    this.addressTextCache.set(value, text);
    return text;
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
    const srcValue = frame.readUInt32BE(FIELD.ipv4Src);
    const srcPort = frame.readUInt16BE(FIELD.udpSrcPort);
    const dstIp = this.addressText(frame.readUInt32BE(FIELD.ipv4Dst));
    const dstPort = frame.readUInt16BE(FIELD.udpDstPort);
    const payloadEnd = UDP_OFFSET + frame.readUInt16BE(FIELD.udpLength);
    const payload = frame.subarray(UDP_OFFSET + UDP_HEADER_BYTES, payloadEnd);
    const front = this.fronts.get(srcValue * 65536 + srcPort);
    const socket =
      front?.socket ??
      (requestFront === undefined
        ? undefined
        : this.flowFor(this.addressText(srcValue), srcPort, requestFront).socket);
    if (socket === undefined) {
      this.counts.unroutable += 1;
      this.logger.debug('output with no socket to send from', {
        srcIp: this.addressText(srcValue),
        srcPort,
        dstIp,
        dstPort,
        port: output.port,
      });
      return;
    }
    this.counts.datagramsOut += 1;
    try {
      socket.send(payload, dstPort, dstIp, (err) => {
        if (err) this.logger.warn('send failed', { dstIp, dstPort, err });
      });
    } catch (err) {
      // dgram throws synchronously for a port 0 or a closed socket; one bad output must not stop the relay.
      this.logger.warn('send refused', { dstIp, dstPort, err });
    }
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
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: RECEIVE_BUFFER_BYTES });
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

export interface DatagramAddresses {
  readonly srcMac: Buffer;
  readonly dstMac: Buffer;
  readonly srcIp: number;
  readonly dstIp: number;
  readonly srcPort: number;
  readonly dstPort: number;
}

/**
 * The frame buildUdpFrame builds with `udpChecksum: 'zero'` (TTL 64, identification 0), written from
 * pre-parsed addresses: the relay frames every datagram, so it skips re-parsing address strings.
 */
export function wrapDatagram(payload: Uint8Array, addresses: DatagramAddresses): Buffer {
  const udpLength = UDP_HEADER_BYTES + payload.length;
  const frame = Buffer.alloc(UDP_OFFSET + udpLength);
  addresses.dstMac.copy(frame, FIELD.ethDst);
  addresses.srcMac.copy(frame, FIELD.ethSrc);
  frame.writeUInt16BE(ETHERTYPE_IPV4, FIELD.etherType);
  frame[FIELD.ipv4VersionIhl] = 0x45;
  frame.writeUInt16BE(IPV4_HEADER_BYTES + udpLength, ETHERNET_HEADER_BYTES + 2);
  frame[FIELD.ipv4Ttl] = 64;
  frame[FIELD.ipv4Protocol] = IP_PROTOCOL_UDP;
  frame.writeUInt32BE(addresses.srcIp >>> 0, FIELD.ipv4Src);
  frame.writeUInt32BE(addresses.dstIp >>> 0, FIELD.ipv4Dst);
  frame.writeUInt16BE(
    ipv4HeaderChecksum(frame.subarray(ETHERNET_HEADER_BYTES, UDP_OFFSET)),
    FIELD.ipv4Checksum,
  );
  frame.writeUInt16BE(addresses.srcPort, FIELD.udpSrcPort);
  frame.writeUInt16BE(addresses.dstPort, FIELD.udpDstPort);
  frame.writeUInt16BE(udpLength, FIELD.udpLength);
  frame.set(payload, UDP_OFFSET + UDP_HEADER_BYTES);
  return frame;
}

/** A Map that forgets everything when full: address caches stay bounded whatever sources appear. */
class BoundedCache<K, V> {
  private readonly entries = new Map<K, V>();
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: V): void {
    if (this.entries.size >= this.capacity) this.entries.clear();
    this.entries.set(key, value);
  }
}
