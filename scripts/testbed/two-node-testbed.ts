// The two-node test bed on one machine with no AWS account: the reference data plane on the local.yaml
// topology, a test CA with node certificates, and node-a/node-b, each a LocalNode (own local nucleus)
// running the function host, the peer agent and the node monitor from their recipes and built artifacts.
// End-to-end tests, the migration benchmark and testbed-cli.ts drive it; it reaches the agents only the
// way the node CLI does (the agent's local control topic over IPC). Invariant: start() either runs the
// whole bed or leaves nothing running, and close() ends everything it started.
import dgram from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import type { CutoverKind } from '../../agent/cutover/cutover-method.ts';
import { agentControlTopic } from '../../components/common/agent-control-contract.ts';
import type { MigrationResult } from '../../agent/migration/source-migration.ts';
import { EdgeShiftError } from '../../components/common/errors.ts';
import { connectIpc, type IpcClient } from '../../components/common/ipc/index.ts';
import { createLogger, type Logger } from '../../components/common/logger.ts';
import { functionHostControlTopic } from '../../components/function-host/function-host-api.ts';
import type { UdpAddress } from '../../components/function-host/function-host-api.ts';
import { encodeMessage } from '../../components/function-host/request-wire.ts';
import type { FunctionSummaryWithCounters } from '../../components/function-host/service-runtime.ts';
import { loadTopology, type Topology } from '../../p4/control-plane/topology.ts';
import { EDGESHIFT_UDP_PORT } from '../../p4/protocol/edgeshift-protocol.ts';
import { DataPlaneWorker } from '../../p4/reference/data-plane-worker.ts';
import { buildArtifacts, PROJECT_ROOT } from '../build-artifacts.ts';
import { generateCertificates } from '../generate-certs.ts';
import { LocalNode } from '../local-nucleus/local-node.ts';
import { ClaimGate, TcpLink } from './link-proxies.ts';
import { processGroupSchedTimes, type SchedTimes } from './process-cpu.ts';

export const NODE_NAMES = ['node-a', 'node-b'] as const;
export type NodeName = (typeof NODE_NAMES)[number];
export const TESTBED_COMPONENTS = {
  functionHost: 'com.edgeshift.FunctionHost',
  peerAgent: 'com.edgeshift.PeerAgent',
  nodeMonitor: 'com.edgeshift.NodeMonitor',
} as const;
export type TestbedComponent = (typeof TESTBED_COMPONENTS)[keyof typeof TESTBED_COMPONENTS];

const TOPOLOGY_PATH = path.join(PROJECT_ROOT, 'p4', 'control-plane', 'local.yaml');
const TESTBED_PRINCIPAL = 'com.edgeshift.TestBed';
const AGENT_GRPC_PORT = 7800;
const AGENT_DATA_PLANE_PORT = 7701;
/** Replies to the load generator must find a route back (the topology ships with none). */
const CLIENT_ROUTE = { prefix: '127.0.0.0/8', nextHopMac: '02:00:00:00:00:01', switchPort: 3 };

export interface TwoNodeTestbedOptions {
  /** Cutover option of sensor-stats on both agents (an agent reads it at start). Default in-network. */
  readonly cutover?: CutoverKind;
  /** Options of the sensor-stats function (windowLength, paddingBytesPerKey, prefillKeys, ...). */
  readonly sensorStatsOptions?: Readonly<Record<string, unknown>>;
  /** Merged into each agent's `migration` configuration group (timeouts, chunkBytes, ...). */
  readonly agentMigration?: Readonly<Record<string, unknown>>;
  /** The function hosts' drainTimeoutMs (default the recipe's; 0: a stop moves nothing away). */
  readonly drainTimeoutMs?: number;
  /** Synthetic CPU load (percent) each node monitor reports; the data plane balances ingest on it. */
  readonly cpuPercent?: Readonly<Record<NodeName, number>>;
  /** Working directory (default a new temporary one, removed by close()). */
  readonly rootDir?: string;
  /** Built artifacts (default: built once per process into a temporary directory). */
  readonly artifactDir?: string;
  /** Admin HTTP port of the data plane on 127.0.0.1 (default none). */
  readonly adminPort?: number;
  /** Component restart delay of the local nodes after a crash (default 1000 ms). */
  readonly restartDelayMs?: number;
  /** EDGESHIFT_LOG_LEVEL of the components, whose logs go to <root>/<node>/logs/ (default info). */
  readonly componentLogLevel?: string;
  /**
   * Puts the gRPC links and CLAIM paths through relays of this process (link-proxies.ts) so a test can
   * cut or hold them. Off by default: a relay adds two hops to every call and shares this process's CPU.
   */
  readonly faultLinks?: boolean;
  readonly logger?: Logger;
}

export interface TestbedNodeInfo {
  readonly name: NodeName;
  readonly id: number;
  readonly ipv4: string;
  readonly rootPath: string;
}

export interface ComponentSchedTimes extends SchedTimes {
  readonly node: NodeName;
  readonly component: string;
}

let builtArtifacts: Promise<string> | undefined;

/** Roots of the beds running in this process: their component processes die with it (see killOnExit). */
const runningRoots = new Set<string>();

/** Pids of node processes whose command line names a file under `dir` (whose path contains `part`). */
function processesUnder(dir: string, part = ''): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // the process ended meanwhile
    }
    if (args[0]?.endsWith('node') === true && args.some((arg) => arg.startsWith(dir) && arg.includes(part)))
      pids.push(Number(entry));
  }
  return pids;
}

// A test runner that exits at once (mocha --exit after a timeout) skips close(): the components it
// started must not outlive it and hold the test bed's addresses.
function killOnExit(): void {
  for (const root of runningRoots) {
    for (const pid of processesUnder(root)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
process.once('exit', killOnExit);

/** Builds the component artifacts once per process (about 10 s) into a temporary directory. */
export function sharedArtifactDir(): Promise<string> {
  builtArtifacts ??= (async () => {
    const outDir = await mkdtemp(path.join(os.tmpdir(), 'edgeshift-artifacts-'));
    await buildArtifacts({ outDir, print: () => undefined });
    return outDir;
  })();
  return builtArtifacts;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The agent's migrate answer, checked once here at the IPC boundary. */
function parseMigrationResult(value: unknown): MigrationResult {
  if (
    !isRecord(value) ||
    typeof value.migrationId !== 'string' ||
    (value.outcome !== 'committed' && value.outcome !== 'aborted') ||
    typeof value.freezeWindowMs !== 'number' ||
    typeof value.serviceFrozenMs !== 'number' ||
    typeof value.cutoverMs !== 'number' ||
    typeof value.snapshotBytes !== 'number' ||
    !Array.isArray(value.transitions)
  ) {
    throw new EdgeShiftError('ERR_E2E_BAD_REPLY', `the agent answered migrate with ${JSON.stringify(value)}`);
  }
  return value as unknown as MigrationResult;
}

function parseFunctions(value: unknown): FunctionSummaryWithCounters[] {
  if (
    !Array.isArray(value) ||
    !value.every(
      (entry) => isRecord(entry) && typeof entry.service === 'string' && typeof entry.role === 'string',
    )
  ) {
    throw new EdgeShiftError(
      'ERR_E2E_BAD_REPLY',
      `the function host answered listFunctions with ${JSON.stringify(value)}`,
    );
  }
  return value as FunctionSummaryWithCounters[];
}

function testbedPolicy(thingName: string): Record<string, unknown> {
  return {
    accessControl: {
      'aws.greengrass.ipc.pubsub': {
        [`${TESTBED_PRINCIPAL}:pubsub:1`]: {
          policyDescription: 'Drive the peer agent and read the function host, as the node CLI does.',
          operations: ['aws.greengrass#PublishToTopic', 'aws.greengrass#SubscribeToTopic'],
          resources: [
            `${agentControlTopic(thingName)}/request`,
            `${agentControlTopic(thingName)}/reply/*`,
            `${functionHostControlTopic(thingName)}/request`,
            `${functionHostControlTopic(thingName)}/reply/*`,
          ],
        },
      },
    },
  };
}

interface RunningNode {
  readonly info: TestbedNodeInfo;
  readonly node: LocalNode;
  readonly ipc: IpcClient;
}

export class TwoNodeTestbed {
  readonly cutover: CutoverKind;
  readonly topology: Topology;

  private constructor(
    readonly dataPlane: DataPlaneWorker,
    private readonly nodes: Readonly<Record<NodeName, RunningNode>>,
    private readonly owned: {
      readonly rootDir: string;
      readonly removeRoot: boolean;
      readonly links?: Readonly<Record<NodeName, TcpLink>>;
      readonly gates?: Readonly<Record<NodeName, ClaimGate>>;
      readonly cutover: CutoverKind;
      readonly topology: Topology;
    },
  ) {
    this.cutover = owned.cutover;
    this.topology = owned.topology;
  }

  static async start(options: TwoNodeTestbedOptions = {}): Promise<TwoNodeTestbed> {
    const logger = options.logger ?? createLogger('testbed');
    const rootDir = options.rootDir ?? (await mkdtemp(path.join(os.tmpdir(), 'edgeshift-testbed-')));
    const cleanup: (() => Promise<void>)[] = [];
    runningRoots.add(rootDir);
    cleanup.push(() => Promise.resolve(void runningRoots.delete(rootDir)));
    try {
      const topology = await loadTopology(TOPOLOGY_PATH);
      const withRoute: Topology = { ...topology, routes: [...topology.routes, CLIENT_ROUTE] };
      const artifactDir = options.artifactDir ?? (await sharedArtifactDir());
      const certs = await generateCertificates({
        outDir: path.join(rootDir, 'tls'),
        nodeIds: [...NODE_NAMES],
      });
      const dataPlane = await DataPlaneWorker.start({
        topology: withRoute,
        logger: logger.child('data-plane'),
        ...(options.adminPort === undefined ? {} : { adminPort: options.adminPort }),
      });
      cleanup.push(() => dataPlane.close());
      const infos = TwoNodeTestbed.nodeInfos(withRoute, rootDir);
      const dataPlaneAddress = { address: withRoute.dataPlane.ipv4, port: EDGESHIFT_UDP_PORT };
      const links = {} as Record<NodeName, TcpLink>;
      const gates = {} as Record<NodeName, ClaimGate>;
      for (const name of options.faultLinks === true ? NODE_NAMES : []) {
        const peer = infos[name === 'node-a' ? 'node-b' : 'node-a'];
        links[name] = await TcpLink.start('127.0.0.1', { address: peer.ipv4, port: AGENT_GRPC_PORT });
        cleanup.push(() => links[name].close());
        gates[name] = await ClaimGate.start(infos[name].ipv4, dataPlaneAddress);
        cleanup.push(() => gates[name].close());
      }
      const sensorStats = withRoute.services.find((service) => service.name === 'sensor-stats');
      if (sensorStats === undefined) throw new Error(`${TOPOLOGY_PATH} has no sensor-stats service`);
      // The control plane seeds the stateful service's owner: node-a at epoch 1, as its function host starts.
      await dataPlane.writeRegister('service_owner', sensorStats.id, infos['node-a'].id);
      await dataPlane.writeRegister('service_epoch', sensorStats.id, 1);
      const cutover = options.cutover ?? 'in-network';
      const nodes = {} as Record<NodeName, RunningNode>;
      for (const name of NODE_NAMES) {
        const info = infos[name];
        // The data plane is seeded afresh above, so no function host may take back the state an earlier
        // run in this root left in its work folder (state checkpoints).
        await rm(path.join(info.rootPath, 'work', TESTBED_COMPONENTS.functionHost), {
          recursive: true,
          force: true,
        });
        const peer = infos[name === 'node-a' ? 'node-b' : 'node-a'];
        const certFiles = certs.nodes.find((node) => node.nodeId === name);
        if (certFiles === undefined) throw new Error(`no certificate for ${name}`);
        const node = new LocalNode({
          recipeDir: path.join(PROJECT_ROOT, 'recipes'),
          artifactDir,
          rootPath: info.rootPath,
          thingName: name,
          restartDelayMs: options.restartDelayMs ?? 1000,
          // Component logs go to files (logPath), which the fault tests read: info whatever the test runner sets.
          componentEnv: { ...process.env, EDGESHIFT_LOG_LEVEL: options.componentLogLevel ?? 'info' },
          stopGraceMs: 15_000,
          logger: logger.child(name),
          merge: {
            [TESTBED_COMPONENTS.functionHost]: functionHostMerge(
              withRoute,
              info,
              infos['node-a'],
              cutover,
              options,
            ),
            [TESTBED_COMPONENTS.peerAgent]: {
              nodeId: info.id,
              nodeName: name,
              grpcListenAddress: `${info.ipv4}:${AGENT_GRPC_PORT}`,
              requestAddress: info.ipv4,
              peers: [
                {
                  nodeId: peer.id,
                  nodeName: peer.name,
                  grpcAddress: links[name]
                    ? `127.0.0.1:${links[name].port}`
                    : `${peer.ipv4}:${AGENT_GRPC_PORT}`,
                },
              ],
              services: [
                { name: 'sensor-stats', serviceId: sensorStats.id, port: sensorStats.udpPort, cutover },
              ],
              dataPlane: {
                address: (gates[name]?.listen ?? dataPlaneAddress).address,
                port: (gates[name]?.listen ?? dataPlaneAddress).port,
                listenAddress: info.ipv4,
                listenPort: AGENT_DATA_PLANE_PORT,
              },
              tls: { caCertPath: certs.caCertPath, certPath: certFiles.certPath, keyPath: certFiles.keyPath },
              // Moves in the test bed are ordered by the tests, never by ADVICE.
              placement: { cooldownMs: 3_600_000 },
              ...(options.agentMigration === undefined ? {} : { migration: options.agentMigration }),
            },
            [TESTBED_COMPONENTS.nodeMonitor]: {
              nodeId: info.id,
              periodMs: 100,
              source: {
                kind: 'synthetic',
                cpu: {
                  shape: 'constant',
                  percent: options.cpuPercent?.[name] ?? (name === 'node-a' ? 40 : 30),
                },
              },
              dataPlane: {
                address: dataPlaneAddress.address,
                port: dataPlaneAddress.port,
                sourceAddress: info.ipv4,
              },
              adviceForward: { address: info.ipv4, port: AGENT_DATA_PLANE_PORT },
            },
          },
        });
        cleanup.push(() => node.close());
        await node.start();
        const { svcuid } = node.nucleus.registerComponent({
          name: TESTBED_PRINCIPAL,
          version: '0.1.0',
          configuration: testbedPolicy(name),
        });
        const ipc = await connectIpc({
          socketPath: path.join(info.rootPath, 'ipc.socket'),
          authToken: svcuid,
          logger: logger.child(`${name}:ipc`),
        });
        cleanup.push(() => ipc.close());
        nodes[name] = { info, node, ipc };
      }
      const bed = new TwoNodeTestbed(dataPlane, nodes, {
        rootDir,
        removeRoot: options.rootDir === undefined,
        ...(options.faultLinks === true ? { links, gates } : {}),
        cutover,
        topology: withRoute,
      });
      await bed.waitUntilReady();
      return bed;
    } catch (err) {
      for (const step of cleanup.reverse()) await step().catch(() => undefined);
      if (options.rootDir === undefined) await rm(rootDir, { recursive: true, force: true });
      throw err;
    }
  }

  private static nodeInfos(topology: Topology, rootDir: string): Record<NodeName, TestbedNodeInfo> {
    const infos = {} as Record<NodeName, TestbedNodeInfo>;
    for (const name of NODE_NAMES) {
      const node = topology.nodes.find((candidate) => candidate.name === name);
      if (node === undefined) throw new Error(`${TOPOLOGY_PATH} has no node ${name}`);
      infos[name] = { name, id: node.id, ipv4: node.ipv4, rootPath: path.join(rootDir, name) };
    }
    return infos;
  }

  /** The VIP address of a service of the topology (ingest, sensor-stats, alert). */
  target(service: string): { host: string; port: number } {
    const entry = this.topology.services.find((candidate) => candidate.name === service);
    if (entry === undefined) throw new Error(`no service ${service} in the topology`);
    return { host: entry.vip, port: entry.udpPort };
  }

  /** The gRPC link from `name`'s agent to its peer, for cutting (needs the faultLinks option). */
  link(name: NodeName): TcpLink {
    return this.faultLink(this.owned.links, name, 'gRPC link');
  }

  /** `name`'s agent path to the data plane, for holding its CLAIMs (needs the faultLinks option). */
  claimGate(name: NodeName): ClaimGate {
    return this.faultLink(this.owned.gates, name, 'CLAIM gate');
  }

  private faultLink<T>(links: Readonly<Record<NodeName, T>> | undefined, name: NodeName, what: string): T {
    if (links === undefined) throw new Error(`the test bed has no ${what}: start it with faultLinks: true`);
    return links[name];
  }

  nodeInfo(name: NodeName): TestbedNodeInfo {
    return this.nodes[name].info;
  }

  localNode(name: NodeName): LocalNode {
    return this.nodes[name].node;
  }

  logPath(name: NodeName, component: TestbedComponent): string {
    return this.nodes[name].node.logPathOf(component);
  }

  /** Node (1-based id) and epoch of a service's owner as the data plane holds them. */
  async dataPlaneOwner(service: string): Promise<{ nodeId: number; epoch: number }> {
    const entry = this.topology.services.find((candidate) => candidate.name === service);
    if (entry === undefined) throw new Error(`no service ${service} in the topology`);
    return {
      nodeId: await this.dataPlane.readRegister('service_owner', entry.id),
      epoch: await this.dataPlane.readRegister('service_epoch', entry.id),
    };
  }

  /**
   * Moves `service` to `toNode` through the source agent's local control interface (as the node CLI's
   * migrate command does) and waits for the outcome. The cutover option is the one the agents started
   * with; asking for another one is refused.
   */
  async migrate(
    service: string,
    toNode: NodeName,
    option: CutoverKind = this.cutover,
    timeoutMs = 120_000,
  ): Promise<MigrationResult> {
    if (option !== this.cutover) {
      throw new EdgeShiftError(
        'ERR_E2E_BAD_REPLY',
        `the agents run with cutover ${this.cutover}; start a test bed with cutover ${option}`,
      );
    }
    const source: NodeName = toNode === 'node-a' ? 'node-b' : 'node-a';
    const answer = await this.nodes[source].ipc.request(
      agentControlTopic(source),
      { op: 'migrate', service, targetNodeId: toNode, wait: true },
      { timeoutMs },
    );
    return parseMigrationResult(answer);
  }

  /** The agent's status (functions, running moves, last results) as the node CLI shows it. */
  async agentStatus(name: NodeName, timeoutMs = 10_000): Promise<unknown> {
    return this.nodes[name].ipc.request(agentControlTopic(name), { op: 'status' }, { timeoutMs });
  }

  /** The node's functions with their role, epoch and state checksum (the function host's listFunctions). */
  async functions(name: NodeName, timeoutMs = 10_000): Promise<FunctionSummaryWithCounters[]> {
    const answer = await this.nodes[name].ipc.request(
      functionHostControlTopic(name),
      { op: 'listFunctions' },
      { timeoutMs },
    );
    return parseFunctions(answer);
  }

  /** Per node: role, epoch and the checksum of the application state of `service`. */
  async stateOf(
    service: string,
  ): Promise<Record<NodeName, { role: string; epoch: number; checksum: string; stateKeys: number }>> {
    const states = {} as Record<
      NodeName,
      { role: string; epoch: number; checksum: string; stateKeys: number }
    >;
    for (const name of NODE_NAMES) {
      const summary = (await this.functions(name)).find((entry) => entry.service === service);
      if (summary === undefined) throw new Error(`${name} does not host ${service}`);
      states[name] = {
        role: summary.role,
        epoch: summary.epoch,
        checksum: summary.appStateChecksum,
        stateKeys: summary.stateKeys,
      };
    }
    return states;
  }

  /** Checksum of `service`'s state on the node that owns it now (by the function hosts' roles). */
  async ownerChecksum(service: string): Promise<{ node: NodeName; checksum: string; epoch: number }> {
    const states = await this.stateOf(service);
    const owners = NODE_NAMES.filter((name) => states[name].role === 'owner');
    if (owners.length !== 1)
      throw new Error(`${service} has ${owners.length} owners: ${JSON.stringify(states)}`);
    const node = owners[0] as NodeName;
    return { node, checksum: states[node].checksum, epoch: states[node].epoch };
  }

  /** CPU time and run-queue wait (ms) of each running component of both nodes since it started. */
  componentSchedTimes(): ComponentSchedTimes[] {
    const running = NODE_NAMES.flatMap((node) =>
      [...this.nodes[node].node.processGroups()].map(([component, group]) => ({ node, component, group })),
    );
    const times = processGroupSchedTimes(running.map(({ group }) => group));
    return running.map(({ node, component, group }) => ({
      node,
      component,
      cpuMs: times.get(group)?.cpuMs ?? 0,
      waitMs: times.get(group)?.waitMs ?? 0,
    }));
  }

  /** Restarts a component on a node as a deployment does (SIGTERM, then its Run again), and waits for it. */
  async restartComponent(name: NodeName, component: TestbedComponent): Promise<void> {
    await this.nodes[name].node.restartComponent(component);
    await this.waitUntilReady();
  }

  /** SIGKILLs a component's process on a node, as a crash would; the local node restarts it after restartDelayMs. */
  killComponent(name: NodeName, component: TestbedComponent): Promise<number[]> {
    const marker = path.join(this.nodes[name].info.rootPath, 'packages');
    const pids = processesUnder(marker, `/${component}/`);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    return Promise.resolve(pids);
  }

  /**
   * Resolves when a new line of a component's log (written from now on) contains `text`; polls the file,
   * so it is at most `pollMs` late.
   */
  async waitForLog(
    name: NodeName,
    component: TestbedComponent,
    text: string,
    { timeoutMs = 60_000, pollMs = 2 }: { timeoutMs?: number; pollMs?: number } = {},
  ): Promise<string> {
    const file = await open(this.logPath(name, component), 'r');
    try {
      let offset = (await file.stat()).size;
      let pending = '';
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { size } = await file.stat();
        if (size > offset) {
          const buffer = Buffer.alloc(size - offset);
          await file.read(buffer, 0, buffer.length, offset);
          offset = size;
          const lines = (pending + buffer.toString('utf8')).split('\n');
          pending = lines.pop() ?? '';
          const hit = lines.find((line) => line.includes(text));
          if (hit !== undefined) return hit;
        }
        if (Date.now() > deadline) {
          throw new EdgeShiftError(
            'ERR_E2E_TIMEOUT',
            `no log line with '${text}' from ${component} on ${name} within ${timeoutMs} ms`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    } finally {
      await file.close();
    }
  }

  /** Waits until both function hosts and agents answer over IPC and ingest answers through the VIP. */
  async waitUntilReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const name of NODE_NAMES) {
      await retryUntil(deadline, `${name}'s function host and agent answer`, async () => {
        await this.functions(name, 2000);
        await this.agentStatus(name, 2000);
      });
    }
    await retryUntil(deadline, 'ingest answers through the data plane', () => this.probeIngest());
  }

  /** Sends one invalid reading to the ingest VIP: an error reply proves the path without touching state. */
  private async probeIngest(): Promise<void> {
    const socket = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      const reply = new Promise<void>((resolve) => socket.once('message', () => resolve()));
      const { host, port } = this.target('ingest');
      socket.send(
        encodeMessage({ id: `probe-${Date.now()}`, service: 'ingest', key: 'probe', body: {} }),
        port,
        host,
      );
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no reply to the ingest probe within 1 s')), 1000);
      });
      await Promise.race([reply, timeout]).finally(() => clearTimeout(timer));
    } finally {
      socket.close();
    }
  }

  /** Stops both nodes (components, then nuclei), the links and the data plane; removes a temporary root. */
  async close(): Promise<void> {
    for (const name of NODE_NAMES) {
      await this.nodes[name].ipc.close().catch(() => undefined);
      await this.nodes[name].node.close();
    }
    for (const name of NODE_NAMES) {
      await this.owned.links?.[name].close();
      await this.owned.gates?.[name].close();
    }
    await this.dataPlane.close();
    runningRoots.delete(this.owned.rootDir);
    if (this.owned.removeRoot) await rm(this.owned.rootDir, { recursive: true, force: true });
  }
}

async function retryUntil(deadline: number, what: string, attempt: () => Promise<void>): Promise<void> {
  for (;;) {
    try {
      await attempt();
      return;
    } catch (err) {
      if (Date.now() > deadline) {
        throw new EdgeShiftError(
          'ERR_E2E_TIMEOUT',
          `test bed not ready: ${what}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

function functionHostMerge(
  topology: Topology,
  info: TestbedNodeInfo,
  firstOwner: TestbedNodeInfo,
  cutover: CutoverKind,
  options: TwoNodeTestbedOptions,
): Record<string, unknown> {
  const service = (name: string): { id: number; vip: string; port: number } => {
    const entry = topology.services.find((candidate) => candidate.name === name);
    if (entry === undefined) throw new Error(`no service ${name} in the topology`);
    return { id: entry.id, vip: entry.vip, port: entry.udpPort };
  };
  const stats = service('sensor-stats');
  const isFirstOwner = info.name === firstOwner.name;
  const hosted = (name: string, module: string, extra: Record<string, unknown>): Record<string, unknown> => ({
    name,
    serviceId: service(name).id,
    module,
    port: service(name).port,
    options: {},
    listenAddress: info.ipv4,
    initialRole: 'owner',
    initialEpoch: 1,
    ...extra,
  });
  const statsAt: UdpAddress = { address: firstOwner.ipv4, port: stats.port };
  return {
    nodeName: info.name,
    advertiseAddress: info.ipv4,
    services: [
      hosted('ingest', 'builtin:sample-app/ingest', {}),
      hosted('sensor-stats', 'builtin:sample-app/sensor-stats', {
        options: options.sensorStatsOptions ?? {},
        initialRole: isFirstOwner ? 'owner' : 'standby',
      }),
      hosted('alert', 'builtin:sample-app/alert', {}),
    ],
    // In-network: a node that does not own sensor-stats calls it through the VIP, steered by the data plane.
    // Reconfiguration: through the route table that the agents rewrite with setRoute.
    serviceAddresses:
      cutover === 'in-network' ? { 'sensor-stats': { address: stats.vip, port: stats.port } } : {},
    routes: cutover === 'reconfiguration' ? { 'sensor-stats': { ...statsAt, epoch: 1 } } : {},
    maxBufferedRequests: 100_000,
    callTimeoutMs: 1000,
    callAttempts: 3,
    ...(options.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: options.drainTimeoutMs }),
  };
}
