// STF cases for HandleClaim (docs/protocol.md §2): the atomic cutover of a stateful service's owner.
// Ownership is observed through requests to the service's VIP, which go to the owner in force. Cases
// run in order on one switch; comments give the owner and epoch of service 1 after each case.
import type { EdgeShiftHeader } from '../../protocol/edgeshift-header.ts';
import { PacketType } from '../../protocol/edgeshift-protocol.ts';
import {
  answerFrame,
  claim,
  CLIENT,
  controlFrame,
  header,
  ipv4Hex,
  nodeTableAdd,
  NODE_A,
  NODE_B,
  requestFrame,
  SENSOR_STATS,
  steeredRequestFrame,
  VIP,
  UPLINK_HOST,
  type LabNode,
} from './lab-network.ts';
import type { StfCase, StfDocument } from './stf-document.ts';

const SERVICE = SENSOR_STATS.serviceId;
const PORT = SENSOR_STATS.udpPort;

function answered(
  title: string,
  node: LabNode,
  sent: EdgeShiftHeader,
  type: typeof PacketType.CLAIM_ACCEPTED | typeof PacketType.CLAIM_STALE,
  ownerNodeId: number,
  epoch: number,
): StfCase {
  const typeName = type === PacketType.CLAIM_ACCEPTED ? 'CLAIM_ACCEPTED' : 'CLAIM_STALE';
  return {
    title,
    built: [
      `Packet: encodeHeader(CLAIM node ${sent.nodeId}, service ${sent.serviceId}, epoch ${sent.epoch}, sequence ${sent.sequence}) from ${node.name}.`,
      `Expected: turned around as ${typeName} with target_node_id ${ownerNodeId} and epoch ${epoch} (in force after the decision).`,
    ],
    packets: [{ port: node.port, frame: controlFrame(node, sent) }],
    expects: [
      { port: node.port, frame: answerFrame(node, { ...sent, type, targetNodeId: ownerNodeId, epoch }) },
    ],
  };
}

function requestTo(title: string, owner: LabNode, body: string): StfCase {
  return {
    title,
    built: [
      `Packet: buildUdpFrame client 10.0.3.3:50000 -> VIP ${VIP}:${PORT}, payload "${body}".`,
      `Expected: steered to ${owner.name} (MACs, IPv4 destination ${owner.ipv4}, TTL - 1, UDP checksum 0).`,
    ],
    packets: [{ port: CLIENT.port, frame: requestFrame(PORT, body) }],
    expects: [{ port: owner.port, frame: steeredRequestFrame(owner, PORT, body) }],
  };
}

function dropped(
  title: string,
  built: string,
  node: LabNode,
  sent: EdgeShiftHeader,
  srcIpv4?: string,
  port = node.port,
): StfCase {
  return {
    title,
    built: [built],
    packets: [{ port, frame: controlFrame(node, sent, srcIpv4 === undefined ? {} : { srcIpv4 }) }],
    expects: [],
  };
}

const cases: StfCase[] = [
  answered(
    'First CLAIM of service 1 (epoch 5 > 0) is accepted: owner 1, epoch 5.',
    NODE_A,
    claim(1, SERVICE, 5, 100),
    PacketType.CLAIM_ACCEPTED,
    1,
    5,
  ),
  requestTo('A request to the stateful VIP goes to the owner, node-a.', NODE_A, 'req-1'),
  answered(
    'CLAIM with a newer epoch 6 from node 2 is accepted: the owner moves to 2, epoch 6.',
    NODE_B,
    claim(2, SERVICE, 6, 200),
    PacketType.CLAIM_ACCEPTED,
    2,
    6,
  ),
  requestTo('After the cutover, requests go to the new owner, node-b.', NODE_B, 'req-2'),
  answered(
    'Replay of the first CLAIM (epoch 5 < 6) is answered CLAIM_STALE with the owner in force; nothing changes.',
    NODE_A,
    claim(1, SERVICE, 5, 100),
    PacketType.CLAIM_STALE,
    2,
    6,
  ),
  answered(
    'CLAIM with the epoch in force (6, not greater) from node 1 is stale too.',
    NODE_A,
    claim(1, SERVICE, 6, 101),
    PacketType.CLAIM_STALE,
    2,
    6,
  ),
  requestTo('The stale CLAIMs changed nothing: requests still go to node-b.', NODE_B, 'req-3'),
  dropped(
    'CLAIM from node id 7, which has no node_table entry, is dropped (unknown sender).',
    "Packet: encodeHeader(CLAIM node 7, service 1, epoch 50, sequence 300) from node-a's addresses and port.",
    NODE_A,
    claim(7, SERVICE, 50, 300),
  ),
  dropped(
    "CLAIM for node 1 from node-b's IPv4 address is dropped (spoofed sender).",
    "Packet: encodeHeader(CLAIM node 1, service 1, epoch 51, sequence 301) from node-a's port with IPv4 source 10.0.2.2.",
    NODE_A,
    claim(1, SERVICE, 51, 301),
    NODE_B.ipv4,
  ),
  dropped(
    "CLAIM for node 1 arriving on node-b's port 2 is dropped (spoofed sender).",
    "Packet: node-a's frame, encodeHeader(CLAIM node 1, service 1, epoch 52, sequence 302), sent into port 2.",
    NODE_A,
    claim(1, SERVICE, 52, 302),
    undefined,
    NODE_B.port,
  ),
  dropped(
    'CLAIM for node 1 arriving on the uplink port 0 is dropped (spoofed sender); port 0 is now watched too.',
    "Packet: node-a's frame, encodeHeader(CLAIM node 1, service 1, epoch 53, sequence 306), sent into port 0.",
    NODE_A,
    claim(1, SERVICE, 53, 306),
    undefined,
    UPLINK_HOST.port,
  ),
  requestTo('The dropped CLAIMs changed nothing: requests still go to node-b.', NODE_B, 'req-4'),
  dropped(
    'ADVICE sent by a node is dropped: only the data plane sends it.',
    'Packet: encodeHeader(ADVICE node 1, service 1, target 1, epoch 60) from node-a.',
    NODE_A,
    header(PacketType.ADVICE, 1, { serviceId: SERVICE, targetNodeId: 1, epoch: 60, sequence: 303 }),
  ),
  dropped(
    'CLAIM_ACCEPTED sent by a node is dropped: only the data plane sends it.',
    'Packet: encodeHeader(CLAIM_ACCEPTED node 1, service 1, target 1, epoch 61) from node-a.',
    NODE_A,
    header(PacketType.CLAIM_ACCEPTED, 1, { serviceId: SERVICE, targetNodeId: 1, epoch: 61, sequence: 304 }),
  ),
  dropped(
    'CLAIM_STALE sent by a node is dropped: only the data plane sends it.',
    'Packet: encodeHeader(CLAIM_STALE node 1, service 1, target 1, epoch 62) from node-a.',
    NODE_A,
    header(PacketType.CLAIM_STALE, 1, { serviceId: SERVICE, targetNodeId: 1, epoch: 62, sequence: 305 }),
  ),
  requestTo('Still node-b.', NODE_B, 'req-5'),
  answered(
    'Epochs compare as plain unsigned numbers: 0x90000000 > 6 is accepted (serial arithmetic would call it older).',
    NODE_A,
    claim(1, SERVICE, 0x9000_0000, 400),
    PacketType.CLAIM_ACCEPTED,
    1,
    0x9000_0000,
  ),
  requestTo('Requests follow the owner back to node-a.', NODE_A, 'req-6'),
];

export const claimStf: StfDocument = {
  fileName: 'claim.stf',
  summary: [
    'Ownership path: HandleClaim, observed through steer_to_owner (docs/protocol.md §2).',
    'Lab network (p4/control-plane/lab.yaml): node-a id 1 10.0.1.1 port 1, node-b id 2 10.0.2.2 port 2,',
    `client 10.0.3.3 port 3; service 1 (stateful) on VIP ${VIP} (${ipv4Hex(VIP)}) UDP ${PORT}.`,
    'Cases run in order on the same registers: service 1 starts with no owner at epoch 0.',
  ],
  setup: [
    nodeTableAdd(NODE_A),
    nodeTableAdd(NODE_B),
    `add service_table hdr.ipv4.dst_addr:${ipv4Hex(VIP)} hdr.udp.dst_port:${PORT} steer_to_owner(service_id:${SERVICE})`,
  ],
  cases,
  closing: {
    comment: 'Drops by reason: 4 unknown or spoofed senders (4), 3 answer types sent by a node (6).',
    lines: [
      'wait',
      'check_counter drop_reasons(4) packets == 4',
      'check_counter drop_reasons(6) packets == 3',
    ],
  },
};
