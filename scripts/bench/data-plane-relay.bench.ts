// Benchmark of the reference data plane: (1) the pipeline alone, nanoseconds per frame for a METRICS
// report and a steered request, in this process; (2) the socket relay as a process of its own
// (scripts/reference-data-plane.ts) in front of a UDP counter service in another process, driven by
// the open-loop load generator: request/reply latency through the relay (compare with the baseline's
// direct echoP99Ms: relayP99OverEcho), replies per second at a high offered rate, loss, and the
// relay's CPU per request. Addresses on 127.0.62.x so it can run beside the demo.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { encodeMessage } from '../../components/function-host/request-wire.ts';
import { LoadGenerator, type LoadReport } from '../loadgen/load-generator.ts';
import { counterStateChecker } from '../loadgen/reply-checker.ts';
import { decodeHeader, encodeHeader, headerOf } from '../../p4/protocol/edgeshift-header.ts';
import { EDGESHIFT_UDP_PORT, PacketType } from '../../p4/protocol/edgeshift-protocol.ts';
import { buildUdpFrame, parseIpv4 } from '../../p4/protocol/udp-frame.ts';
import { ReferencePipeline } from '../../p4/reference/pipeline.ts';
import type { Benchmark, BenchmarkContext, Metrics } from './harness.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DATA_PLANE = '127.0.62.10';
const NODE_A = '127.0.62.11';
const VIP = '127.0.62.100';
const SERVICE_PORT = 19200;
const START_TIMEOUT_MS = 30_000;

const TOPOLOGY = {
  name: 'relay-bench',
  dataPlane: { ipv4: DATA_PLANE, mac: '02:00:00:00:3e:0a' },
  nodes: [{ name: 'node-a', id: 1, ipv4: NODE_A, mac: '02:00:00:00:3e:0b', switchPort: 1 }],
  services: [{ name: 'counter', id: 1, kind: 'stateful', vip: VIP, udpPort: SERVICE_PORT }],
  // Clients (127.0.0.1) are reached through port 3: the route replies take after getting the VIP.
  routes: [{ prefix: '127.0.0.0/8', nextHopMac: '02:00:00:00:3e:01', switchPort: 3 }],
  policy: {
    loadHighBp: 8000,
    loadLowBp: 5000,
    overloadReports: 3,
    livenessReports: 64,
    livenessTimeoutUs: 0,
  },
};

/** ns per process() call for a METRICS report and a request steered to its owner. */
function measurePipeline(iterations: number): { metricsNsPerFrame: number; requestNsPerFrame: number } {
  const pipeline = new ReferencePipeline();
  pipeline.addEntry('node_table', { node_id: 1 }, 'set_node', {
    ipv4_addr: parseIpv4(NODE_A),
    mac_addr: 0x02000000000b,
    port: 1,
    peer_node_id: 0,
    offload_service_id: 0,
  });
  pipeline.addEntry('service_table', { dst_addr: parseIpv4(VIP), dst_port: SERVICE_PORT }, 'steer_to_owner', {
    service_id: 1,
  });
  pipeline.writeRegister('service_owner', 1, 1);
  const base = {
    srcMac: '02:00:00:00:3e:0b',
    dstMac: '02:00:00:00:3e:0a',
    srcIp: NODE_A,
    dstIp: DATA_PLANE,
    srcPort: 4000,
  };
  const metricsFrames = Array.from({ length: 1024 }, (_, i) =>
    buildUdpFrame({
      ...base,
      dstPort: EDGESHIFT_UDP_PORT,
      payload: encodeHeader(
        headerOf({
          type: PacketType.METRICS,
          nodeId: 1,
          sequence: i + 1,
          cpuLoadBp: 100,
          memLoadBp: 100,
        }),
      ),
    }),
  );
  const request = buildUdpFrame({
    ...base,
    srcIp: '127.0.0.1',
    dstIp: VIP,
    dstPort: SERVICE_PORT,
    payload: Buffer.alloc(64),
  });
  const time = (run: (i: number) => void): number => {
    // A warm-up pass first, so the JIT has compiled the path before it is timed.
    for (let i = 0; i < iterations / 4; i += 1) run(i);
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i += 1) run(i);
    return Number(process.hrtime.bigint() - start) / iterations;
  };
  // Sequence numbers wrap around the 1024 frames, so some reports are stale: both paths are timed.
  const metricsNsPerFrame = time((i) => pipeline.process(metricsFrames[i % 1024]!, 1, BigInt(i)));
  const requestNsPerFrame = time((i) => pipeline.process(request, 3, BigInt(i)));
  return { metricsNsPerFrame, requestNsPerFrame };
}

function spawnTs(args: readonly string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'ignore', 'inherit'],
    env: { ...process.env, EDGESHIFT_LOG_LEVEL: 'warn' },
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** CPU time (user + system) of a process in µs, from /proc/<pid>/stat. */
async function cpuUs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / 100; // USER_HZ is 100 on Linux
}

/** Sends CLAIM(service 1, epoch 1) from node-a until the relay answers: it is up, and node-a owns the service. */
async function claimUntilAnswered(): Promise<void> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind({ address: NODE_A, port: 0 }, () => resolve()));
  const claim = encodeHeader(
    headerOf({
      type: PacketType.CLAIM,
      nodeId: 1,
      serviceId: 1,
      sequence: 1,
      epoch: 1,
    }),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + START_TIMEOUT_MS;
      const timer = setInterval(() => {
        if (Date.now() > deadline) reject(new Error('the relay did not answer a CLAIM within 30 s'));
        else socket.send(claim, EDGESHIFT_UDP_PORT, DATA_PLANE);
      }, 200);
      socket.on('message', (message) => {
        const decoded = decodeHeader(message);
        if (decoded.ok && decoded.header.targetNodeId === 1) {
          clearInterval(timer);
          resolve();
        }
      });
    });
  } finally {
    socket.close();
  }
}

async function load(phase: string, rateHz: number, durationMs: number): Promise<LoadReport> {
  return new LoadGenerator({
    target: { host: VIP, port: SERVICE_PORT },
    service: 'counter',
    keyName: (n) => `${phase}-${n}`,
    rateHz,
    durationMs,
    keyCount: 100,
    replyDeadlineMs: 1000,
    checkState: counterStateChecker(),
  }).run();
}

/**
 * Closed loop: `inFlight` requests outstanding at all times for `durationMs`; replies per second is
 * the relay's throughput when it, not an open-loop schedule, sets the pace.
 */
async function closedLoopRepliesPerS(inFlight: number, durationMs: number): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind({ address: '127.0.0.1', port: 0 }, () => resolve()));
  // A request the counter service answers: request-wire.ts framing with a key of its own.
  const body = encodeMessage({
    id: 'closed-loop',
    service: 'counter',
    key: 'closed-loop',
    body: { sensorId: 'closed-loop', value: 1 },
  });
  let replies = 0;
  const startMs = performance.now();
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, durationMs);
      socket.on('message', () => {
        replies += 1;
        if (performance.now() - startMs < durationMs) socket.send(body, SERVICE_PORT, VIP);
        else {
          clearTimeout(timer);
          resolve();
        }
      });
      for (let i = 0; i < inFlight; i += 1) socket.send(body, SERVICE_PORT, VIP);
    });
  } finally {
    socket.close();
  }
  return (replies / (performance.now() - startMs)) * 1000;
}

async function run(context: BenchmarkContext): Promise<Metrics> {
  const pipelineMetrics = measurePipeline(context.isQuick ? 20_000 : 200_000);
  const dir = await mkdtemp(join(tmpdir(), 'edgeshift-relay-bench-'));
  const topologyPath = join(dir, 'topology.yaml');
  await writeFile(topologyPath, stringify(TOPOLOGY));
  const counter = spawnTs([
    '--input-type=module',
    '-e',
    `import { startUdpCounterServer } from './scripts/bench/udp-echo-server.ts';
     await startUdpCounterServer({ host: '${NODE_A}', port: ${SERVICE_PORT}, node: 'node-a' });
     process.on('SIGTERM', () => process.exit(0));`,
  ]);
  const relay = spawnTs(['scripts/reference-data-plane.ts', '--topology', topologyPath]);
  try {
    await claimUntilAnswered();
    const relayPid = relay.pid ?? 0;
    const steadyCpuBefore = await cpuUs(relayPid);
    const steady = await load(`steady-${context.runIndex}`, 2000, context.isQuick ? 500 : 3000);
    const steadyCpu = (await cpuUs(relayPid)) - steadyCpuBefore;
    const high = await load(`high-${context.runIndex}`, 10_000, context.isQuick ? 300 : 1000);
    const closedLoop = await closedLoopRepliesPerS(16, context.isQuick ? 500 : 2000);
    const lossPercent = (report: LoadReport): number =>
      (report.totals.lost / Math.max(1, report.totals.sent)) * 100;
    return {
      ...pipelineMetrics,
      relayP50Ms: steady.latency.fromScheduled.p50Ms,
      relayP99Ms: steady.latency.fromScheduled.p99Ms,
      relayMaxMs: steady.latency.fromScheduled.maxMs,
      relayLossPercent: lossPercent(steady),
      relayCpuUsPerRequest: steadyCpu / Math.max(1, steady.totals.sent),
      highRateRepliesPerS: (high.totals.replied / high.durationMs) * 1000,
      closedLoopRepliesPerS: closedLoop,
      highRateLossPercent: lossPercent(high),
      highRateP99Ms: high.latency.fromScheduled.p99Ms,
      faultyReplies:
        steady.totals.duplicates + steady.totals.wrongState + high.totals.duplicates + high.totals.wrongState,
    };
  } finally {
    await Promise.all([stop(relay), stop(counter)]);
    await rm(dir, { recursive: true, force: true });
  }
}

export const benchmark: Benchmark = {
  name: 'data-plane-relay',
  description:
    'reference pipeline ns per frame; UDP relay latency, throughput, loss and CPU per request vs direct echo',
  ratios: {
    relayP50OverEcho: ['relayP50Ms', 'echoP50Ms'],
    relayP99OverEcho: ['relayP99Ms', 'echoP99Ms'],
  },
  run,
};
