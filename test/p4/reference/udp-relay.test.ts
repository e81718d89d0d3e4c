import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, afterEach, before, describe, it } from 'mocha';
import { hasErrorCode } from '../../../components/common/errors.ts';
import { validateTopology, type Topology } from '../../../p4/control-plane/topology.ts';
import {
  decodeHeader,
  encodeHeader,
  headerOf,
  type EdgeShiftHeader,
} from '../../../p4/protocol/edgeshift-header.ts';
import { EDGESHIFT_UDP_PORT, PacketType } from '../../../p4/protocol/edgeshift-protocol.ts';
import { ReferencePipeline } from '../../../p4/reference/pipeline.ts';
import { DropReason } from '../../../p4/reference/program.ts';
import {
  startReferenceDataPlane,
  type ReferenceDataPlane,
} from '../../../p4/reference/reference-data-plane.ts';
import { UdpRelay, wrapDatagram } from '../../../p4/reference/udp-relay.ts';
import { buildUdpFrame, parseIpv4, parseMac } from '../../../p4/protocol/udp-frame.ts';

// Addresses of their own on 127.0.61.x (Linux routes all of 127/8 to lo), so these tests do not
// collide with other tests that bind the demo's 127.0.0.x addresses.
const DATA_PLANE = '127.0.61.10';
const NODE_A = '127.0.61.11';
const NODE_B = '127.0.61.12';
const VIP = '127.0.61.100';
const CLIENT = '127.0.61.50';
const STATEFUL_PORT = 19101;
const STATELESS_PORT = 19100;
const RECEIVE_TIMEOUT_MS = 5000;

async function relayTopology(): Promise<Topology> {
  return validateTopology(
    {
      name: 'relay-test',
      dataPlane: { ipv4: DATA_PLANE, mac: '02:00:00:00:3d:0a' },
      nodes: [
        {
          name: 'node-a',
          id: 1,
          ipv4: NODE_A,
          mac: '02:00:00:00:3d:0b',
          switchPort: 1,
          peer: 'node-b',
          offloadService: 'stats',
        },
        {
          name: 'node-b',
          id: 2,
          ipv4: NODE_B,
          mac: '02:00:00:00:3d:0c',
          switchPort: 2,
          peer: 'node-a',
          offloadService: 'stats',
        },
      ],
      services: [
        { name: 'stats', id: 1, kind: 'stateful', vip: VIP, udpPort: STATEFUL_PORT },
        {
          name: 'ingest',
          id: 2,
          kind: 'stateless',
          vip: VIP,
          udpPort: STATELESS_PORT,
          balanceBetween: ['node-a', 'node-b'],
        },
      ],
      routes: [{ prefix: '127.0.61.0/24', nextHopMac: '02:00:00:00:3d:01', switchPort: 3 }],
      policy: {
        loadHighBp: 8000,
        loadLowBp: 5000,
        overloadReports: 3,
        livenessReports: 20,
        livenessTimeoutUs: 0,
      },
    },
    'relay-test',
  );
}

async function bound(address: string, port = 0): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address, port }, () => resolve());
  });
  return socket;
}

function receive(socket: dgram.Socket): Promise<{ message: Buffer; remote: dgram.RemoteInfo }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off('message', onMessage);
      reject(
        new Error(
          `no datagram on ${socket.address().address}:${socket.address().port} within ${RECEIVE_TIMEOUT_MS} ms`,
        ),
      );
    }, RECEIVE_TIMEOUT_MS);
    const onMessage = (message: Buffer, remote: dgram.RemoteInfo): void => {
      clearTimeout(timer);
      resolve({ message, remote });
    };
    socket.once('message', onMessage);
  });
}

const header = headerOf;

function sendTo(socket: dgram.Socket, payload: Uint8Array, address: string, port: number): void {
  socket.send(payload, port, address);
}

async function exchange(
  socket: dgram.Socket,
  fields: EdgeShiftHeader,
): Promise<{ header: EdgeShiftHeader; remote: dgram.RemoteInfo }> {
  const answer = receive(socket);
  sendTo(socket, encodeHeader(fields), DATA_PLANE, EDGESHIFT_UDP_PORT);
  const { message, remote } = await answer;
  const decoded = decodeHeader(message);
  assert.ok(decoded.ok, `the answer must decode: ${decoded.ok ? '' : decoded.reason}`);
  return { header: decoded.header, remote };
}

/** Waits, polling the pipeline, until a drop reason was counted (no fixed sleep). */
async function dropCounted(pipeline: ReferencePipeline, reason: number, count: number): Promise<void> {
  const deadline = Date.now() + RECEIVE_TIMEOUT_MS;
  while (pipeline.readCounter('drop_reasons', reason).packets < count) {
    if (Date.now() > deadline) assert.fail(`drop_reasons[${reason}] did not reach ${count}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('udp-relay', () => {
  let dataPlane: ReferenceDataPlane;
  let nodeA: dgram.Socket;
  let nodeB: dgram.Socket;
  let serviceA: dgram.Socket;
  let serviceB: dgram.Socket;
  let statelessA: dgram.Socket;
  let statelessB: dgram.Socket;
  let client: dgram.Socket;
  const sockets: dgram.Socket[] = [];
  let sequence = 100;

  before(async () => {
    dataPlane = await startReferenceDataPlane({ topology: await relayTopology() });
    nodeA = await bound(NODE_A);
    nodeB = await bound(NODE_B);
    // Two fake nodes: each service answers "<node>:<request>" from its service port.
    serviceA = await bound(NODE_A, STATEFUL_PORT);
    serviceB = await bound(NODE_B, STATEFUL_PORT);
    statelessA = await bound(NODE_A, STATELESS_PORT);
    statelessB = await bound(NODE_B, STATELESS_PORT);
    for (const [socket, name] of [
      [serviceA, 'node-a'],
      [serviceB, 'node-b'],
      [statelessA, 'node-a'],
      [statelessB, 'node-b'],
    ] as const) {
      socket.on('message', (message, remote) =>
        socket.send(Buffer.concat([Buffer.from(`${name}:`), message]), remote.port, remote.address),
      );
    }
    client = await bound(CLIENT);
    sockets.push(nodeA, nodeB, serviceA, serviceB, statelessA, statelessB, client);
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await dataPlane.close();
  });

  afterEach(() => {
    sequence += 10;
  });

  async function request(port: number, body: string): Promise<{ text: string; remote: dgram.RemoteInfo }> {
    const reply = receive(client);
    sendTo(client, Buffer.from(body), VIP, port);
    const { message, remote } = await reply;
    return { text: message.toString(), remote };
  }

  it('answers a CLAIM with CLAIM_ACCEPTED from the data plane address and moves the owner', async () => {
    const { header: answer, remote } = await exchange(
      nodeA,
      header({ type: PacketType.CLAIM, nodeId: 1, serviceId: 1, sequence: 9, epoch: 1 }),
    );
    assert.deepEqual(
      answer,
      header({
        type: PacketType.CLAIM_ACCEPTED,
        nodeId: 1,
        serviceId: 1,
        sequence: 9,
        epoch: 1,
        targetNodeId: 1,
      }),
      'accepted, owner 1 at epoch 1',
    );
    assert.deepEqual(
      [remote.address, remote.port],
      [DATA_PLANE, EDGESHIFT_UDP_PORT],
      'answered from the data plane socket',
    );
    assert.equal(dataPlane.pipeline.readRegister('service_owner', 1), 1);
  });

  it('relays a request to the owner and the reply back with the VIP as source', async () => {
    const { text, remote } = await request(STATEFUL_PORT, 'hello');
    assert.equal(text, 'node-a:hello', 'the owner node-a served it');
    assert.deepEqual([remote.address, remote.port], [VIP, STATEFUL_PORT], 'the reply comes from VIP:port');
  });

  it('answers METRICS with ADVICE once the owner stays overloaded while its peer has room', async () => {
    sendTo(
      nodeB,
      encodeHeader(
        header({
          type: PacketType.METRICS,
          nodeId: 2,
          sequence,
          cpuLoadBp: 2000,
          memLoadBp: 1000,
          inflightRequests: 4,
        }),
      ),
      DATA_PLANE,
      EDGESHIFT_UDP_PORT,
    );
    const overloaded = (offset: number) =>
      encodeHeader(
        header({
          type: PacketType.METRICS,
          nodeId: 1,
          sequence: sequence + offset,
          cpuLoadBp: 9500,
          memLoadBp: 3000,
        }),
      );
    const advice = receive(nodeA);
    for (const offset of [1, 2, 3]) sendTo(nodeA, overloaded(offset), DATA_PLANE, EDGESHIFT_UDP_PORT);
    const { message, remote } = await advice;
    const decoded = decodeHeader(message);
    assert.ok(decoded.ok);
    assert.deepEqual(
      decoded.header,
      header({
        type: PacketType.ADVICE,
        nodeId: 1,
        serviceId: 1,
        sequence: sequence + 3,
        epoch: 1,
        cpuLoadBp: 2000,
        memLoadBp: 1000,
        inflightRequests: 4,
        targetNodeId: 2,
      }),
      'ADVICE: move service 1 to node 2, with node 2 loads, echoing the third report',
    );
    assert.deepEqual([remote.address, remote.port], [DATA_PLANE, EDGESHIFT_UDP_PORT]);
  });

  it('moves requests to the new owner after its CLAIM, and answers a replayed CLAIM with CLAIM_STALE', async () => {
    const { header: accepted } = await exchange(
      nodeB,
      header({ type: PacketType.CLAIM, nodeId: 2, serviceId: 1, sequence: 10, epoch: 2 }),
    );
    assert.equal(accepted.type, PacketType.CLAIM_ACCEPTED);
    assert.equal(
      (await request(STATEFUL_PORT, 'after-claim')).text,
      'node-b:after-claim',
      'node-b owns it now',
    );
    const { header: stale } = await exchange(
      nodeA,
      header({ type: PacketType.CLAIM, nodeId: 1, serviceId: 1, sequence: 11, epoch: 2 }),
    );
    assert.deepEqual(
      [stale.type, stale.targetNodeId, stale.epoch],
      [PacketType.CLAIM_STALE, 2, 2],
      'stale: owner node-b at epoch 2 stays',
    );
    assert.equal((await request(STATEFUL_PORT, 'after-stale')).text, 'node-b:after-stale');
  });

  it('balances a stateless request to the less loaded live node', async () => {
    sendTo(
      nodeA,
      encodeHeader(header({ type: PacketType.METRICS, nodeId: 1, sequence: sequence + 50, cpuLoadBp: 100 })),
      DATA_PLANE,
      EDGESHIFT_UDP_PORT,
    );
    sendTo(
      nodeB,
      encodeHeader(header({ type: PacketType.METRICS, nodeId: 2, sequence: sequence + 50, cpuLoadBp: 7000 })),
      DATA_PLANE,
      EDGESHIFT_UDP_PORT,
    );
    const deadline = Date.now() + RECEIVE_TIMEOUT_MS;
    while (dataPlane.pipeline.readRegister('node_cpu_load', 2) !== 7000 && Date.now() < deadline) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    const { text, remote } = await request(STATELESS_PORT, 'balanced');
    assert.equal(text, 'node-a:balanced', 'node-a has the lower load');
    assert.deepEqual([remote.address, remote.port], [VIP, STATELESS_PORT]);
  });

  it('drops METRICS from an address that is not the node it claims to be', async () => {
    const before = dataPlane.pipeline.readCounter('drop_reasons', DropReason.UNKNOWN_SENDER).packets;
    sendTo(
      client,
      encodeHeader(header({ type: PacketType.METRICS, nodeId: 1, sequence: sequence + 99, cpuLoadBp: 1 })),
      DATA_PLANE,
      EDGESHIFT_UDP_PORT,
    );
    await dropCounted(dataPlane.pipeline, DropReason.UNKNOWN_SENDER, before + 1);
    assert.notEqual(
      dataPlane.pipeline.readRegister('node_cpu_load', 1),
      1,
      'the spoofed load was not stored',
    );
  });

  it('refuses to start when an address cannot be bound, leaving nothing bound', async () => {
    const topology = await relayTopology();
    await assert.rejects(
      UdpRelay.start({
        pipeline: new ReferencePipeline(),
        endpoints: {
          dataPlaneAddress: DATA_PLANE,
          controlPort: 0,
          dataPlaneMac: topology.dataPlane.mac,
          uplinkPort: 3,
          uplinkMac: '02:00:00:00:00:01',
          nodes: [],
          services: [{ vip: '192.0.2.1', port: 9 }],
        },
      }),
      (err: unknown) =>
        hasErrorCode(err, 'ERR_DATAPLANE_BIND_FAILED') && /192\.0\.2\.1:9/.test((err as Error).message),
    );
  });

  describe('upstream flows', () => {
    it('keeps at most maxFlows client flows, closing the least recently used, and every client still gets its reply', async () => {
      // A relay of its own on 127.0.63.x with one flow slot, in front of one fake node.
      const pipeline = new ReferencePipeline();
      pipeline.addEntry('node_table', { node_id: 1 }, 'set_node', {
        ipv4_addr: parseIpv4('127.0.63.11'),
        mac_addr: 0x02000000000b,
        port: 1,
        peer_node_id: 0,
        offload_service_id: 0,
      });
      pipeline.addEntry(
        'service_table',
        { dst_addr: parseIpv4('127.0.63.100'), dst_port: 19301 },
        'steer_to_owner',
        {
          service_id: 1,
        },
      );
      pipeline.addEntry(
        'reply_table',
        { src_addr: parseIpv4('127.0.63.11'), src_port: 19301 },
        'set_vip_source',
        {
          vip: parseIpv4('127.0.63.100'),
        },
      );
      pipeline.addEntry(
        'ipv4_lpm',
        { dst_addr: { kind: 'lpm', value: parseIpv4('127.0.63.0'), prefixLength: 24 } },
        'ipv4_forward',
        { dst_mac: 1, port: 3 },
      );
      pipeline.writeRegister('service_owner', 1, 1);
      const relay = await UdpRelay.start({
        pipeline,
        maxFlows: 1,
        endpoints: {
          dataPlaneAddress: '127.0.63.10',
          dataPlaneMac: '02:00:00:00:3f:0a',
          uplinkPort: 3,
          uplinkMac: '02:00:00:00:3f:01',
          nodes: [{ ipv4: '127.0.63.11', mac: '02:00:00:00:3f:0b', port: 1 }],
          services: [{ vip: '127.0.63.100', port: 19301 }],
        },
      });
      const service = await bound('127.0.63.11', 19301);
      service.on('message', (message, remote) => service.send(message, remote.port, remote.address));
      const clients = [await bound('127.0.63.51'), await bound('127.0.63.52')];
      try {
        for (const [i, socket] of [...clients, clients[0]!].entries()) {
          const reply = receive(socket);
          sendTo(socket, Buffer.from(`request-${i}`), '127.0.63.100', 19301);
          const { message, remote } = await reply;
          assert.equal(message.toString(), `request-${i}`, 'the reply reaches the client that asked');
          assert.equal(remote.address, '127.0.63.100', 'from the VIP');
          assert.equal(relay.stats().activeFlows, 1, 'never more than maxFlows upstream sockets');
        }
        assert.deepEqual(
          [relay.stats().datagramsIn, relay.stats().datagramsOut, relay.stats().unroutable],
          [6, 6, 0],
          'three requests and three replies, each framed, run and sent once',
        );
      } finally {
        for (const socket of [...clients, service]) socket.close();
        await relay.close();
      }
    });
  });

  describe('wrapDatagram', () => {
    it('builds the same bytes as buildUdpFrame with a zero UDP checksum', () => {
      const payload = Buffer.from('a request body');
      const expected = buildUdpFrame({
        srcMac: '02:00:00:00:3d:0b',
        dstMac: '02:00:00:00:3d:0a',
        srcIp: CLIENT,
        dstIp: VIP,
        srcPort: 40123,
        dstPort: STATEFUL_PORT,
        payload,
        udpChecksum: 'zero',
      });
      const actual = wrapDatagram(payload, {
        srcMac: Buffer.from(parseMac('02:00:00:00:3d:0b')),
        dstMac: Buffer.from(parseMac('02:00:00:00:3d:0a')),
        srcIp: parseIpv4(CLIENT),
        dstIp: parseIpv4(VIP),
        srcPort: 40123,
        dstPort: STATEFUL_PORT,
      });
      assert.deepEqual(
        actual,
        expected,
        'the relay frames datagrams byte for byte as the shared frame builder',
      );
    });
  });
});
