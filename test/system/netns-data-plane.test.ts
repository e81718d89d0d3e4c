// The three paths of data between real separate hosts: node-a, node-b and a client in network namespaces
// linked by veths to a switch namespace running the reference data plane (p4/control-plane/netns.yaml).
// Monitors, function hosts, UDP endpoints and the load generator run inside the namespaces as processes;
// the test reads the data plane through its admin interface. Needs root and iproute2 (requireSystem).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadTopology, type Topology } from '../../p4/control-plane/topology.ts';
import {
  decodeHeader,
  encodeHeader,
  headerOf,
  type EdgeShiftHeader,
} from '../../p4/protocol/edgeshift-header.ts';
import { EDGESHIFT_UDP_PORT, PacketType } from '../../p4/protocol/edgeshift-protocol.ts';
import {
  DataPlaneProcess,
  pollUntil,
  runLoadGenerator,
  startFunctionHost,
  startMonitor,
  UdpEndpoint,
  type Datagram,
  type UdpAddress,
} from '../../scripts/testbed/netns-parts.ts';
import type { NetnsProcess } from '../../scripts/testbed/netns-process.ts';
import { NetnsTestbed, netnsPlanFromTopology, SWITCH_ROLE } from '../../scripts/testbed/netns-testbed.ts';
import { requireSystem } from './support/requirements.ts';

const TOPOLOGY_PATH = 'p4/control-plane/netns.yaml';
const CLIENT_IPV4 = '10.77.3.3';
// The switch namespace's own loopback: no other run or process shares it.
const ADMIN_PORT = 7800;
const WAIT_MS = 20_000;
const SENSOR_STATS_ID = 1;

interface NodeView {
  readonly nodeId: number;
  readonly name: string | null;
  readonly cpuLoadBp: number;
  readonly memLoadBp: number;
  readonly inflightRequests: number;
  readonly isLive: boolean;
  readonly lastSequence: number;
  readonly lastReportClock: number;
  readonly lastSeenUs: number;
  readonly overloadStreak: number;
}

interface ServiceView {
  readonly serviceId: number;
  readonly ownerNodeId: number;
  readonly epoch: number;
}

interface CounterView {
  readonly name: string;
  readonly values: readonly {
    readonly index: number;
    readonly reason: string | null;
    readonly packets: number;
  }[];
}

const header = headerOf;

function decoded(datagram: Datagram): EdgeShiftHeader | undefined {
  const result = decodeHeader(datagram.payload);
  return result.ok ? result.header : undefined;
}

/** A function host configuration for one node: the stateful sensor-stats (VIP port) and the alert it calls. */
function functionHostConfig(nodeName: string, sensorStatsPort: number): Record<string, unknown> {
  const service = (name: string, serviceId: number, port: number): Record<string, unknown> => ({
    name,
    serviceId,
    module: `builtin:sample-app/${name}`,
    options: {},
    listenAddress: '0.0.0.0',
    port,
    initialRole: 'owner',
    initialEpoch: 1,
  });
  return {
    nodeName,
    advertiseAddress: '',
    services: [service('sensor-stats', SENSOR_STATS_ID, sensorStatsPort), service('alert', 3, 9102)],
    serviceAddresses: {},
    routes: {},
    maxBufferedRequests: 10000,
    dedupeEntriesPerKey: 16,
    // Both hosts run in this checkout's folder; a test run keeps no state for the next one.
    stateCheckpointDir: '',
    handOverHoldMs: 500,
    callTimeoutMs: 500,
    callAttempts: 3,
    maxChunkBytes: 4194304,
  };
}

describe('reference data plane across network namespaces (system)', function () {
  // Seven Node processes start on a possibly loaded 2-core machine.
  this.timeout(90_000);

  let topology: Topology;
  let testbed: NetnsTestbed | undefined;
  let workDirectory: string | undefined;
  let dataPlane: DataPlaneProcess;
  let nodeA: UdpEndpoint;
  let nodeB: UdpEndpoint;
  let client: UdpEndpoint;
  const monitors: NetnsProcess[] = [];
  let dataPlaneControl: UdpAddress;
  let vip: UdpAddress;
  let firstClaimAnswer: Datagram;

  const nodeByName = (name: string) => {
    const node = topology.nodes.find((candidate) => candidate.name === name);
    assert.ok(node, `topology ${TOPOLOGY_PATH} has ${name}`);
    return node;
  };
  const nodes = async (): Promise<NodeView[]> =>
    ((await dataPlane.getJson('/nodes')) as { nodes: NodeView[] }).nodes;
  const nodeView = async (nodeId: number): Promise<NodeView> => {
    const view = (await nodes()).find((node) => node.nodeId === nodeId);
    assert.ok(view, `the admin interface lists node ${nodeId}`);
    return view;
  };
  const dropCount = async (reason: string): Promise<number> => {
    const { counters } = (await dataPlane.getJson('/counters')) as { counters: CounterView[] };
    const row = counters
      .find((counter) => counter.name === 'drop_reasons')
      ?.values.find((value) => value.reason === reason);
    assert.ok(row, `drop_reasons has a row for ${reason}`);
    return row.packets;
  };
  const owner = async (): Promise<ServiceView> => {
    const { services } = (await dataPlane.getJson('/services')) as { services: ServiceView[] };
    const service = services.find((candidate) => candidate.serviceId === SENSOR_STATS_ID);
    assert.ok(service, 'the admin interface lists sensor-stats');
    return service;
  };

  /** node-a's view once two reads agree (its monitor stopped): registers holding still. */
  const stableNodeView = async (nodeId: number): Promise<NodeView> => {
    const [view] = await pollUntil(
      async () => [await nodeView(nodeId), await nodeView(nodeId)] as const,
      ([first, second]) => first.lastSequence === second.lastSequence,
      { timeoutMs: WAIT_MS, what: `node ${nodeId}'s registers holding still` },
    );
    return view;
  };
  /** Packets the switch namespace's kernel dropped for arriving on the wrong link (TcpExt IPReversePathFilter). */
  const reversePathDrops = async (): Promise<number> => {
    const lines = (await testbed!.run(SWITCH_ROLE, ['cat', '/proc/net/netstat'])).split('\n');
    const names = lines.find((line) => line.startsWith('TcpExt:'))?.split(/\s+/) ?? [];
    const values = lines.filter((line) => line.startsWith('TcpExt:'))[1]?.split(/\s+/) ?? [];
    const value = Number(values[names.indexOf('IPReversePathFilter')]);
    assert.ok(Number.isInteger(value), 'the switch namespace counts reverse-path drops in /proc/net/netstat');
    return value;
  };

  /** Sends a CLAIM from `endpoint` and returns the data plane's answer (CLAIM_ACCEPTED or CLAIM_STALE). */
  const claim = async (endpoint: UdpEndpoint, nodeId: number, epoch: number): Promise<Datagram> => {
    const mark = endpoint.mark;
    endpoint.send(
      dataPlaneControl,
      encodeHeader(header({ type: PacketType.CLAIM, nodeId, serviceId: SENSOR_STATS_ID, epoch })),
    );
    return endpoint.nextDatagram(
      (datagram) => {
        const type = decoded(datagram)?.type;
        return type === PacketType.CLAIM_ACCEPTED || type === PacketType.CLAIM_STALE;
      },
      WAIT_MS,
      `the answer to CLAIM(epoch ${epoch}) from node ${nodeId}`,
      mark,
    );
  };

  /** Sends a sensor-stats request from the client to the VIP and returns the reply datagram. */
  const request = async (id: string): Promise<Datagram> => {
    const mark = client.mark;
    const body = {
      id,
      service: 'sensor-stats',
      key: 'probe-1',
      body: { sensorId: 'probe-1', celsius: 21.5 },
    };
    client.send(vip, Buffer.from(JSON.stringify(body)));
    return client.nextDatagram(
      (datagram) => datagram.payload.toString('utf8').includes(`"id":"${id}"`),
      WAIT_MS,
      `the reply to request ${id}`,
      mark,
    );
  };

  before(async function () {
    requireSystem(['root', 'ip']);
    topology = await loadTopology(TOPOLOGY_PATH);
    dataPlaneControl = { address: topology.dataPlane.ipv4, port: EDGESHIFT_UDP_PORT };
    const sensorStats = topology.services.find((service) => service.name === 'sensor-stats');
    assert.ok(sensorStats, 'the topology has sensor-stats');
    vip = { address: sensorStats.vip, port: sensorStats.udpPort };
    testbed = await NetnsTestbed.create(
      netnsPlanFromTopology(topology, [{ role: 'client', ipv4: CLIENT_IPV4 }]),
    );
    workDirectory = await mkdtemp(join(tmpdir(), 'edgeshift-netns-'));
    const bed = testbed;
    [dataPlane, nodeA, nodeB, client] = await Promise.all([
      DataPlaneProcess.start(bed, { topologyPath: TOPOLOGY_PATH, adminPort: ADMIN_PORT, workDirectory }),
      UdpEndpoint.start(bed, 'node-a'),
      UdpEndpoint.start(bed, 'node-b'),
      UdpEndpoint.start(bed, 'client'),
      startFunctionHost(bed, 'node-a', functionHostConfig('node-a', sensorStats.udpPort)),
      startFunctionHost(bed, 'node-b', functionHostConfig('node-b', sensorStats.udpPort)),
    ]);
    // node-a owns sensor-stats (epoch 1): ADVICE is only given to a service's owner.
    firstClaimAnswer = await claim(nodeA, nodeByName('node-a').id, 1);
  });

  after(async () => {
    await testbed?.destroy();
    if (workDirectory !== undefined) await rm(workDirectory, { recursive: true, force: true });
  });

  it('answers CLAIMs over the veth link from the data-plane address: the first accepted, a repeat stale', async () => {
    assert.deepEqual(
      firstClaimAnswer.from,
      dataPlaneControl,
      'the answer comes from the data-plane address, port 7700',
    );
    assert.deepEqual(
      firstClaimAnswer.payload,
      encodeHeader(
        header({
          type: PacketType.CLAIM_ACCEPTED,
          nodeId: 1,
          serviceId: SENSOR_STATS_ID,
          epoch: 1,
          targetNodeId: 1,
        }),
      ),
      "node-a's first CLAIM (epoch 1) is accepted and names node-a as owner",
    );
    const answer = await claim(nodeA, nodeByName('node-a').id, 1);
    assert.deepEqual(
      answer.payload,
      encodeHeader(
        header({
          type: PacketType.CLAIM_STALE,
          nodeId: 1,
          serviceId: SENSOR_STATS_ID,
          epoch: 1,
          targetNodeId: 1,
        }),
      ),
      'a repeated CLAIM is answered CLAIM_STALE with the owner and epoch in force',
    );
  });

  it('shows both nodes live with their loads from monitors in their own namespaces, and gives node-a ADVICE there', async () => {
    const a = nodeByName('node-a');
    const b = nodeByName('node-b');
    const monitorOf = (
      role: string,
      nodeId: number,
      ipv4: string,
      percent: number,
      adviceForward?: UdpAddress,
    ) =>
      startMonitor(testbed!, role, {
        nodeId,
        dataPlane: dataPlaneControl,
        sourceAddress: ipv4,
        synthetic: { cpu: { shape: 'constant', percent }, memory: { shape: 'constant', percent: 10 } },
        ...(adviceForward === undefined ? {} : { adviceForward }),
      });
    const adviceMark = nodeA.mark;
    monitors.push(
      ...(await Promise.all([
        // node-a's monitor forwards ADVICE to the endpoint in its own namespace (where a peer agent would listen).
        monitorOf('node-a', a.id, a.ipv4, 95, { address: '127.0.0.1', port: nodeA.bound.port }),
        monitorOf('node-b', b.id, b.ipv4, 20),
      ])),
    );
    const isNear = (value: number, target: number): boolean => Math.abs(value - target) <= 300;
    const views = await pollUntil(
      nodes,
      (list) => {
        const viewA = list.find((node) => node.nodeId === a.id);
        const viewB = list.find((node) => node.nodeId === b.id);
        return (
          viewA !== undefined &&
          viewB !== undefined &&
          viewA.isLive &&
          viewB.isLive &&
          isNear(viewA.cpuLoadBp, 9500) &&
          isNear(viewB.cpuLoadBp, 2000)
        );
      },
      { timeoutMs: WAIT_MS, what: 'node-a near 95 % and node-b near 20 % CPU, both live' },
    );
    for (const view of views.filter((node) => node.nodeId === a.id || node.nodeId === b.id)) {
      assert.ok(
        view.lastSequence > 0,
        `${view.name} reported more than once (sequence ${view.lastSequence})`,
      );
      assert.ok(isNear(view.memLoadBp, 1000), `${view.name} memory near 10 %, got ${view.memLoadBp} bp`);
    }
    assert.deepEqual(
      views.map((view) => view.name),
      ['node-a', 'node-b'],
      'the admin interface names the nodes from the topology',
    );

    const advice = await nodeA.nextDatagram(
      (datagram) => decoded(datagram)?.type === PacketType.ADVICE,
      WAIT_MS,
      'an ADVICE forwarded by the node-a monitor',
      adviceMark,
    );
    const adviceHeader = decoded(advice)!;
    // The data plane answers the monitor's socket (node-a's address); the monitor passes it on from there.
    assert.equal(
      advice.from.address,
      a.ipv4,
      "the ADVICE reached the endpoint from node-a's own monitor socket",
    );
    assert.notEqual(
      advice.from.port,
      EDGESHIFT_UDP_PORT,
      'the endpoint got it from the monitor, not the data plane',
    );
    await monitors[0]?.waitForLine(
      (line) => line.includes('forwarding ADVICE to the peer agent'),
      WAIT_MS,
      'that it forwarded ADVICE',
    );
    assert.deepEqual(
      { ...adviceHeader, sequence: 0, cpuLoadBp: 0, memLoadBp: 0 },
      header({
        type: PacketType.ADVICE,
        nodeId: a.id,
        serviceId: SENSOR_STATS_ID,
        epoch: 1,
        targetNodeId: b.id,
      }),
      'ADVICE asks node-a to offload sensor-stats (epoch 1) to node-b',
    );
    assert.ok(
      isNear(adviceHeader.cpuLoadBp, 2000),
      `ADVICE carries node-b's CPU load, got ${adviceHeader.cpuLoadBp}`,
    );
  });

  it("drops a METRICS packet from node-b's namespace that claims node-a's id, leaving node-a's registers as they were", async () => {
    const a = nodeByName('node-a');
    // node-a's monitor stops so its registers hold still; node-b's keeps reporting.
    await monitors[0]?.stop();
    const before = await stableNodeView(a.id);
    const dropsBefore = await dropCount('UNKNOWN_SENDER');
    const spoofed = encodeHeader(
      header({
        type: PacketType.METRICS,
        nodeId: a.id,
        sequence: before.lastSequence + 1,
        cpuLoadBp: 1234,
        memLoadBp: 4321,
      }),
    );

    nodeB.send(dataPlaneControl, spoofed);
    await pollUntil(
      () => dropCount('UNKNOWN_SENDER'),
      (count) => count === dropsBefore + 1,
      {
        timeoutMs: WAIT_MS,
        what: 'drop_reasons[UNKNOWN_SENDER] counting the spoofed packet',
      },
    );
    const after = await nodeView(a.id);
    assert.deepEqual(
      { ...after, isLive: before.isLive },
      before,
      "the spoofed METRICS changed none of node-a's registers",
    );

    // The same bytes from node-a's own address are accepted: the sender, not the packet, was refused.
    nodeA.send(dataPlaneControl, spoofed);
    const accepted = await pollUntil(
      () => nodeView(a.id),
      (view) => view.lastSequence === before.lastSequence + 1,
      {
        timeoutMs: WAIT_MS,
        what: 'the same METRICS from node-a accepted',
      },
    );
    assert.equal(accepted.cpuLoadBp, 1234, "node-a's own METRICS sets its CPU load");
    assert.equal(await dropCount('UNKNOWN_SENDER'), dropsBefore + 1, 'no further UNKNOWN_SENDER drop');
  });

  it("stops a METRICS with node-a's forged source address on node-b's link at the switch host, before the data plane", async () => {
    const a = nodeByName('node-a');
    const bed = testbed!;
    const before = await stableNodeView(a.id);
    const filteredBefore = await reversePathDrops();
    // node-b takes node-a's address as its own: its packets then carry node-a's source address.
    await bed.run('node-b', ['ip', 'address', 'add', `${a.ipv4}/32`, 'dev', 'eth0']);
    try {
      const forger = await UdpEndpoint.start(bed, 'node-b', { address: a.ipv4 });
      forger.send(
        dataPlaneControl,
        encodeHeader(
          header({
            type: PacketType.METRICS,
            nodeId: a.id,
            sequence: before.lastSequence + 1,
            cpuLoadBp: 4321,
          }),
        ),
      );
      // Counted in the kernel when dropped: after this the packet can no longer reach the data plane.
      await pollUntil(reversePathDrops, (count) => count === filteredBefore + 1, {
        timeoutMs: WAIT_MS,
        what: "the switch's reverse-path filter dropping the forged packet",
      });
      await forger.process.stop();
    } finally {
      await bed.run('node-b', ['ip', 'address', 'delete', `${a.ipv4}/32`, 'dev', 'eth0']);
    }
    assert.deepEqual(
      { ...(await nodeView(a.id)), isLive: before.isLive },
      before,
      "the forged METRICS changed none of node-a's registers",
    );
  });

  it("steers the client's requests to the VIP to the owner's function host, answers from the VIP, and follows node-b's CLAIM", async () => {
    const first = await request('client-1');
    assert.deepEqual(first.from, vip, 'the reply comes back with the VIP as source address and port');
    const firstReply = JSON.parse(first.payload.toString('utf8')) as {
      ok: boolean;
      node: string;
      body: { count: number };
    };
    assert.equal(firstReply.ok, true, `the request succeeded: ${first.payload.toString('utf8')}`);
    assert.equal(firstReply.node, 'node-a', 'node-a, the owner at epoch 1, processed it');
    assert.equal(firstReply.body.count, 1, 'node-a saw its first reading of probe-1');

    const answer = await claim(nodeB, nodeByName('node-b').id, 2);
    assert.deepEqual(
      answer.payload,
      encodeHeader(
        header({
          type: PacketType.CLAIM_ACCEPTED,
          nodeId: 2,
          serviceId: SENSOR_STATS_ID,
          epoch: 2,
          targetNodeId: 2,
        }),
      ),
      "node-b's CLAIM at epoch 2 is accepted",
    );
    assert.deepEqual(
      { owner: (await owner()).ownerNodeId, epoch: (await owner()).epoch },
      { owner: 2, epoch: 2 },
      'the data plane records node-b as owner at epoch 2',
    );

    const second = await request('client-2');
    assert.deepEqual(second.from, vip, 'after the CLAIM the reply still comes from the VIP');
    const secondReply = JSON.parse(second.payload.toString('utf8')) as {
      ok: boolean;
      node: string;
      body: { count: number };
    };
    assert.equal(secondReply.ok, true, `the request succeeded: ${second.payload.toString('utf8')}`);
    assert.equal(secondReply.node, 'node-b', 'node-b, the new owner, processed it');

    const stale = await claim(nodeA, nodeByName('node-a').id, 2);
    assert.equal(decoded(stale)?.type, PacketType.CLAIM_STALE, "node-a's CLAIM at the same epoch is stale");
    const third = await request('client-3');
    assert.equal(
      (JSON.parse(third.payload.toString('utf8')) as { node: string }).node,
      'node-b',
      'a stale CLAIM does not move the service back',
    );
  });

  it('carries an open-loop load from the client namespace through the VIP to the owner: none lost, duplicated or wrong', async () => {
    const ownerInForce = await owner();
    const ownerName = topology.nodes.find((node) => node.id === ownerInForce.ownerNodeId)?.name;
    const jsonOutPath = join(workDirectory!, 'load.json');
    const exitCode = await runLoadGenerator(testbed!, 'client', {
      target: vip,
      service: 'sensor-stats',
      rateHz: 200,
      durationMs: 2000,
      keyCount: 20,
      valueField: 'celsius',
      jsonOutPath,
    });
    const report = JSON.parse(await readFile(jsonOutPath, 'utf8')) as {
      totals: {
        sent: number;
        replied: number;
        lost: number;
        duplicates: number;
        wrongState: number;
        errors: number;
      };
      nodes: Record<string, number>;
    };
    const { sent, replied, lost, duplicates, wrongState, errors } = report.totals;
    assert.deepEqual(
      { sent, replied, lost, duplicates, wrongState, errors },
      { sent: 400, replied: 400, lost: 0, duplicates: 0, wrongState: 0, errors: 0 },
      'every request of the run was answered once, with the right per-sensor count',
    );
    assert.deepEqual(report.nodes, { [ownerName ?? '?']: 400 }, 'the owner in force answered every request');
    assert.equal(exitCode, 0, 'the load generator exits 0 on a clean run');
  });
});
