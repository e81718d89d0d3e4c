// STF cases for the request path (docs/protocol.md §2, steps 3-5): stateful services steered to their
// owner, stateless ones balanced on load and liveness, replies given the VIP back, plain LPM
// forwarding and its miss. Cases run in order on one switch; liveness counts accepted reports.
import type { EdgeShiftHeader } from '../../protocol/edgeshift-header.ts';
import { PacketType } from '../../protocol/edgeshift-protocol.ts';
import {
  answerFrame,
  claim,
  CLIENT,
  CLIENT_UDP_PORT,
  controlFrame,
  DATA_PLANE,
  forwardedFrame,
  hostFrame,
  icmpEchoFrame,
  INGEST,
  ipv4Hex,
  macHex,
  metrics,
  nodeTableAdd,
  NODE_A,
  NODE_B,
  policySetDefault,
  requestFrame,
  SENSOR_STATS,
  steeredRequestFrame,
  UPLINK_HOST,
  VIP,
  type LabNode,
} from './lab-network.ts';
import type { StfCase, StfDocument } from './stf-document.ts';

const POLICY = { loadHighBp: 8000, loadLowBp: 5000, overloadReports: 3, livenessReports: 2 } as const;

function request(title: string, servicePort: number, body: string, to: LabNode | undefined): StfCase {
  return {
    title,
    built: [
      `Packet: buildUdpFrame client 10.0.3.3:${CLIENT_UDP_PORT} -> VIP ${VIP}:${servicePort}, payload "${body}", UDP checksum computed.`,
      to === undefined
        ? 'Expected: nothing.'
        : `Expected: steered to ${to.name}: Ethernet source := data plane MAC, destination := ${to.mac}, IPv4 destination := ${to.ipv4}, TTL 63, UDP checksum 0.`,
    ],
    packets: [{ port: CLIENT.port, frame: requestFrame(servicePort, body) }],
    expects: to === undefined ? [] : [{ port: to.port, frame: steeredRequestFrame(to, servicePort, body) }],
  };
}

function claimAccepted(title: string, node: LabNode, sent: EdgeShiftHeader): StfCase {
  return {
    title,
    built: [
      `Packet: encodeHeader(CLAIM node ${sent.nodeId}, service ${sent.serviceId}, epoch ${sent.epoch}) from ${node.name}.`,
      `Expected: turned around as CLAIM_ACCEPTED, target_node_id ${sent.nodeId}, epoch ${sent.epoch}.`,
    ],
    packets: [{ port: node.port, frame: controlFrame(node, sent) }],
    expects: [
      {
        port: node.port,
        frame: answerFrame(node, { ...sent, type: PacketType.CLAIM_ACCEPTED, targetNodeId: sent.nodeId }),
      },
    ],
  };
}

function report(title: string, node: LabNode, sent: EdgeShiftHeader): StfCase {
  return {
    title,
    built: [
      `Packet: encodeHeader(METRICS node ${sent.nodeId}, sequence ${sent.sequence}, cpu ${sent.cpuLoadBp}, mem ${sent.memLoadBp}) from ${node.name}; consumed.`,
    ],
    packets: [{ port: node.port, frame: controlFrame(node, sent) }],
    expects: [],
  };
}

const STATEFUL = SENSOR_STATS.udpPort;
const STATELESS = INGEST.udpPort;

const cases: StfCase[] = [
  request(
    'Stateful service with no owner yet (service_owner[1] = 0): dropped.',
    STATEFUL,
    'stateful-0',
    undefined,
  ),
  claimAccepted(
    'node-a claims service 1 at epoch 1.',
    NODE_A,
    claim(NODE_A.nodeId, SENSOR_STATS.serviceId, 1, 1),
  ),
  request(
    'Stateful service steered to its owner node-a (which has never reported: an owner is used live or not).',
    STATEFUL,
    'stateful-1',
    NODE_A,
  ),
  claimAccepted(
    'node-b claims service 1 at epoch 2.',
    NODE_B,
    claim(NODE_B.nodeId, SENSOR_STATS.serviceId, 2, 1),
  ),
  request('Stateful service steered to the new owner node-b.', STATEFUL, 'stateful-2', NODE_B),
  request(
    'Stateless service, neither node has reported: no live node, dropped.',
    STATELESS,
    'stateless-0',
    undefined,
  ),
  report('node-a reports load 3000 (clock 1).', NODE_A, metrics(NODE_A.nodeId, 10, 3000, 1000)),
  request('Stateless service, only node-a is live: node-a.', STATELESS, 'stateless-1', NODE_A),
  report('node-b reports load 2000 (clock 2).', NODE_B, metrics(NODE_B.nodeId, 20, 2000, 500)),
  request(
    'Stateless service, both live: the less loaded node-b (2000 < 3000).',
    STATELESS,
    'stateless-2',
    NODE_B,
  ),
  report(
    'node-b reports load 3000 = max(cpu 1000, mem 3000) (clock 3).',
    NODE_B,
    metrics(NODE_B.nodeId, 21, 1000, 3000),
  ),
  request(
    'Stateless service, both live (node-a: 3 - 1 <= 2) with equal load 3000: the tie goes to node_a.',
    STATELESS,
    'stateless-3',
    NODE_A,
  ),
  report(
    "node-b reports load 7000 (clock 4); node-a's last report is now 4 - 1 = 3 > 2 reports old.",
    NODE_B,
    metrics(NODE_B.nodeId, 22, 7000, 500),
  ),
  request(
    'Stateless service, only node-b is live: node-b despite its higher load.',
    STATELESS,
    'stateless-4',
    NODE_B,
  ),
  {
    title:
      "Reply from node-a's service port gets the VIP as IPv4 source, then is forwarded by LPM to the client.",
    built: [
      `Packet: buildUdpFrame node-a 10.0.1.1:${STATEFUL} -> client 10.0.3.3:${CLIENT_UDP_PORT}, payload "reply-1", UDP checksum computed.`,
      `Expected: IPv4 source := VIP ${VIP}, UDP checksum 0, Ethernet source := data plane MAC, destination := client MAC, TTL 63, port 3.`,
    ],
    packets: [
      { port: NODE_A.port, frame: hostFrame(NODE_A, CLIENT.ipv4, STATEFUL, CLIENT_UDP_PORT, 'reply-1') },
    ],
    expects: [
      {
        port: CLIENT.port,
        frame: forwardedFrame(NODE_A, CLIENT.ipv4, STATEFUL, CLIENT_UDP_PORT, 'reply-1', CLIENT, VIP),
      },
    ],
  },
  {
    title: 'Plain IPv4 forwarding: node-a to the client from a port that is no service (reply_table miss).',
    built: [
      `Packet: buildUdpFrame node-a 10.0.1.1:5555 -> client 10.0.3.3:${CLIENT_UDP_PORT}, payload "plain", UDP checksum computed.`,
      'Expected: Ethernet source := data plane MAC, destination := client MAC, TTL 63, addresses and UDP checksum unchanged, port 3.',
    ],
    packets: [{ port: NODE_A.port, frame: hostFrame(NODE_A, CLIENT.ipv4, 5555, CLIENT_UDP_PORT, 'plain') }],
    expects: [
      {
        port: CLIENT.port,
        frame: forwardedFrame(NODE_A, CLIENT.ipv4, 5555, CLIENT_UDP_PORT, 'plain', CLIENT),
      },
    ],
  },
  {
    title: 'Plain IPv4 forwarding of a packet that is not UDP (ICMP echo from node-b to the client).',
    built: [
      'Packet: hand-built ICMP echo request 10.0.2.2 -> 10.0.3.3, TTL 64, IPv4 checksum from ipv4HeaderChecksum.',
      'Expected: the same with Ethernet source := data plane MAC, destination := client MAC, TTL 63, IPv4 checksum recomputed, port 3.',
    ],
    packets: [
      { port: NODE_B.port, frame: icmpEchoFrame(NODE_B.mac, DATA_PLANE.mac, NODE_B.ipv4, CLIENT.ipv4, 64) },
    ],
    expects: [
      { port: CLIENT.port, frame: icmpEchoFrame(DATA_PLANE.mac, CLIENT.mac, NODE_B.ipv4, CLIENT.ipv4, 63) },
    ],
  },
  {
    title: 'LPM miss: a datagram from the uplink (port 0) to 192.168.1.1 is dropped (no route).',
    built: [
      'Packet: buildUdpFrame 10.9.0.9:6000 -> 192.168.1.1:6001, payload "nowhere", UDP checksum computed.',
    ],
    packets: [
      { port: UPLINK_HOST.port, frame: hostFrame(UPLINK_HOST, '192.168.1.1', 6000, 6001, 'nowhere') },
    ],
    expects: [],
  },
];

export const requestsStf: StfDocument = {
  fileName: 'requests.stf',
  summary: [
    'Request path: service_table, SteerRequest, reply_table and ipv4_lpm (docs/protocol.md §2).',
    'Lab network (p4/control-plane/lab.yaml): node-a id 1 10.0.1.1 port 1, node-b id 2 10.0.2.2 port 2,',
    `client 10.0.3.3 port 3, uplink port 0; VIP ${VIP}: service 1 stateful on UDP ${STATEFUL},`,
    `service 2 stateless on UDP ${STATELESS} balanced between nodes 1 and 2.`,
    'Policy: liveness_reports 2, no timeout: a node is live until 3 reports from others follow its last.',
  ],
  setup: [
    nodeTableAdd(NODE_A),
    nodeTableAdd(NODE_B),
    policySetDefault(POLICY),
    `add service_table hdr.ipv4.dst_addr:${ipv4Hex(VIP)} hdr.udp.dst_port:${STATEFUL} steer_to_owner(service_id:${SENSOR_STATS.serviceId})`,
    `add service_table hdr.ipv4.dst_addr:${ipv4Hex(VIP)} hdr.udp.dst_port:${STATELESS} balance_between(service_id:${INGEST.serviceId}, node_a:${NODE_A.nodeId}, node_b:${NODE_B.nodeId})`,
    `add reply_table hdr.ipv4.src_addr:${ipv4Hex(NODE_A.ipv4)} hdr.udp.src_port:${STATEFUL} set_vip_source(vip:${ipv4Hex(VIP)})`,
    `add ipv4_lpm hdr.ipv4.dst_addr:0x0a0003** ipv4_forward(dst_mac:${macHex(CLIENT.mac)}, port:${CLIENT.port})`,
  ],
  cases,
  closing: {
    comment: 'Drops by reason: 1 service without owner (7), 1 without live node (8), 1 without route (9).',
    lines: [
      'wait',
      'check_counter drop_reasons(7) packets == 1',
      'check_counter drop_reasons(8) packets == 1',
      'check_counter drop_reasons(9) packets == 1',
    ],
  },
};
