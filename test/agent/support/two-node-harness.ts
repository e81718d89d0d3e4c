// Two peer agents (node-a, node-b) on 127.0.0.1 with real gRPC over mutual TLS, real UDP to a fake
// data plane, in-memory function host doubles and one manual clock. node-a starts as the owner of
// both services. send() delivers a simulated request where the data path currently points.

import type { StreamPriority } from '../../../agent/cpu-priority.ts';
import { createLogger } from '../../../components/common/logger.ts';
import { DataPlaneLink } from '../../../components/common/data-plane-link.ts';
import type { CutoverKind } from '../../../agent/cutover/cutover-method.ts';
import { PeerAgent, type PeerAgentSettings } from '../../../agent/peer-agent.ts';
import type { TlsMaterial } from '../../../agent/peer-tls.ts';
import { FakeDataPlane } from './fake-data-plane.ts';
import { InMemoryFunctionHost, inMemoryNotifier } from './in-memory-function-host.ts';
import { ManualClock } from './manual-clock.ts';
import { testCertificates } from './test-certificates.ts';
import { TcpProxy } from './tcp-proxy.ts';
import { freePort } from '../../support/free-port.ts';

export const STATEFUL = { name: 'sensor-stats', serviceId: 7, port: 7107 } as const;
export const STATELESS = { name: 'ingest', serviceId: 3, port: 7103 } as const;

export const TEST_SETTINGS: PeerAgentSettings = {
  chunkBytes: 256 * 1024,
  transferBytesPerSecond: 0,
  deltaThresholdBytes: 64,
  quietDeltaRoundMs: 0,
  maxDeltaRounds: 4,
  directHandOff: true,
  completeForwardAttempts: 3,
  timeouts: {
    prepareMs: 10_000,
    transferMs: 60_000,
    deltaMs: 10_000,
    freezeMs: 10_000,
    activateMs: 10_000,
    cutoverMs: 10_000,
    handOverMs: 10_000,
    commitMs: 10_000,
    abortMs: 10_000,
    hostCallMs: 10_000,
  },
  targetIdleTimeoutMs: 30_000,
  claimRetransmitMs: 200,
  peerCallTimeoutMs: 10_000,
};

export const TEST_PLACEMENT = {
  highLoadBp: 8000,
  lowLoadBp: 5000,
  consecutiveSamples: 3,
  cooldownMs: 60_000,
};

let nextAddressOctet = 10;

/** A StreamPriority that changes no weight and records which of its host's calls ran at the lower one. */
export class RecordingStreamPriority implements StreamPriority {
  readonly #host: InMemoryFunctionHost;
  readonly #spans: { from: number; to: number }[] = [];
  /** Lowerings not released yet. */
  unreleased = 0;

  constructor(host: InMemoryFunctionHost) {
    this.#host = host;
  }

  async during<T>(work: () => Promise<T>): Promise<T> {
    const release = this.lower();
    try {
      return await work();
    } finally {
      release();
    }
  }

  lower(): () => void {
    const from = this.#host.calls.length;
    this.unreleased += 1;
    let isReleased = false;
    return () => {
      if (isReleased) return;
      isReleased = true;
      this.unreleased -= 1;
      this.#spans.push({ from, to: this.#host.calls.length });
    };
  }

  /** The host operations called while a stream ran. */
  opsDuring(): string[] {
    return this.#spans.flatMap(({ from, to }) => this.#host.calls.slice(from, to));
  }
}

export interface TwoNodes {
  readonly clock: ManualClock;
  readonly dataPlane: FakeDataPlane;
  readonly hostA: InMemoryFunctionHost;
  readonly hostB: InMemoryFunctionHost;
  readonly agentA: PeerAgent;
  readonly agentB: PeerAgent;
  readonly streamA: RecordingStreamPriority;
  readonly streamB: RecordingStreamPriority;
  /** Present when started with `proxied`: node-a reaches node-b through it. */
  readonly proxy?: TcpProxy;
  send(service: string, id: string, key: string): void;
  close(): Promise<void>;
}

export async function startTwoNodes(options: {
  cutover: CutoverKind;
  proxied?: boolean;
  settings?: Partial<PeerAgentSettings>;
}): Promise<TwoNodes> {
  const certs = await testCertificates();
  const clock = new ManualClock();
  const dataPlane = await FakeDataPlane.start();
  dataPlane.setOwner(STATEFUL.serviceId, { nodeId: 1, epoch: 1 });
  dataPlane.setOwner(STATELESS.serviceId, { nodeId: 1, epoch: 1 });
  // Distinct fake request addresses per harness keep the doubles' forwarding registry apart.
  nextAddressOctet += 1;
  const hostA = new InMemoryFunctionHost('node-a', {
    address: `10.0.${nextAddressOctet}.1`,
    port: STATEFUL.port,
  });
  const hostB = new InMemoryFunctionHost('node-b', {
    address: `10.0.${nextAddressOctet}.2`,
    port: STATEFUL.port,
  });
  for (const [host, role] of [
    [hostA, 'owner'],
    [hostB, 'standby'],
  ] as const) {
    host.addService({
      service: STATEFUL.name,
      serviceId: STATEFUL.serviceId,
      isStateful: true,
      role,
      epoch: 1,
    });
    host.addService({
      service: STATELESS.name,
      serviceId: STATELESS.serviceId,
      isStateful: false,
      role,
      epoch: 1,
    });
  }
  const services = [STATEFUL, STATELESS].map((service) => ({ ...service, cutover: options.cutover }));
  const start = async (
    nodeId: string,
    nodeNumber: number,
    host: InMemoryFunctionHost,
    tls: TlsMaterial,
    listenPort: number,
    peer: { nodeId: string; nodeNumber: number; grpcAddress: string },
  ): Promise<PeerAgent> => {
    const dataPlaneLink = await DataPlaneLink.open({
      dataPlane: { address: '127.0.0.1', port: dataPlane.port },
      listen: { address: '127.0.0.1', port: 0 },
      log: createLogger(`test:${nodeId}:link`),
    });
    links.push(dataPlaneLink);
    return PeerAgent.start({
      nodeId,
      nodeNumber,
      requestAddress: host.endpoint.address,
      listenAddress: `127.0.0.1:${listenPort}`,
      services,
      peers: [peer],
      host,
      tls,
      dataPlaneLink,
      notifier: inMemoryNotifier,
      clock,
      log: createLogger(`test:${nodeId}`),
      settings: { ...TEST_SETTINGS, ...options.settings },
      placement: TEST_PLACEMENT,
      streamPriority: host === hostA ? streamA : streamB,
      channelOptions: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 500 },
    });
  };
  const links: DataPlaneLink[] = [];
  const [streamA, streamB] = [new RecordingStreamPriority(hostA), new RecordingStreamPriority(hostB)];
  const [portA, portB] = [await freePort(), await freePort()];
  const agentB = await start('node-b', 2, hostB, certs.nodeB, portB, {
    nodeId: 'node-a',
    nodeNumber: 1,
    grpcAddress: `127.0.0.1:${portA}`,
  });
  const proxy = options.proxied === true ? await TcpProxy.start(agentB.port) : undefined;
  const agentA = await start('node-a', 1, hostA, certs.nodeA, portA, {
    nodeId: 'node-b',
    nodeNumber: 2,
    grpcAddress: `127.0.0.1:${proxy?.port ?? agentB.port}`,
  });
  const ownerHost = (service: string): InMemoryFunctionHost => {
    const entry = service === STATEFUL.name ? STATEFUL : STATELESS;
    if (options.cutover === 'in-network')
      return dataPlane.ownerOf(entry.serviceId)?.nodeId === 2 ? hostB : hostA;
    return hostA.routeOf(service)?.owner.address === hostB.endpoint.address ? hostB : hostA;
  };
  return {
    clock,
    dataPlane,
    hostA,
    hostB,
    agentA,
    agentB,
    streamA,
    streamB,
    ...(proxy ? { proxy } : {}),
    send: (service, id, key) => ownerHost(service).submit(service, { id, key }),
    close: async () => {
      agentA.destroy();
      agentB.destroy();
      proxy?.cut();
      for (const link of links) await link.close();
      await dataPlane.close();
    },
  };
}

/** A function host that restarted in a configured role of owner: it claims STATEFUL at epoch 1. */
export function restartedAsOwner(host: InMemoryFunctionHost): void {
  host.addService({
    service: STATEFUL.name,
    serviceId: STATEFUL.serviceId,
    isStateful: true,
    role: 'owner',
    epoch: 1,
  });
}

/** Ids processed on either node, and those processed more than once. */
export function tally(hosts: readonly InMemoryFunctionHost[]): {
  processed: Set<string>;
  duplicates: string[];
} {
  const processed = new Set<string>();
  const duplicates: string[] = [];
  for (const id of hosts.flatMap((host) => host.processed)) {
    if (processed.has(id)) duplicates.push(id);
    processed.add(id);
  }
  return { processed, duplicates };
}
