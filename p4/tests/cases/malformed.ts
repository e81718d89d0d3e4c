// STF cases for step 1 of the ingress (docs/protocol.md §2): malformed EdgeShift headers (each parser
// error), truncated packets, bad IPv4 checksums and non-IPv4 frames are dropped. Each malformed packet
// is a CLAIM from node-a that would be answered on port 1 if it were processed, and a catch-all route
// sends anything forwarded by mistake to port 3, so a missed drop shows as an unexpected packet.
import { encodeHeader } from '../../protocol/edgeshift-header.ts';
import { EDGESHIFT_MAGIC, EDGESHIFT_VERSION, PacketType } from '../../protocol/edgeshift-protocol.ts';
import {
  answerFrame,
  claim,
  CLIENT,
  controlFrame,
  forwardedFrame,
  hostFrame,
  macHex,
  nodeTableAdd,
  NODE_A,
  patchField,
  UPLINK_HOST,
} from './lab-network.ts';
import type { StfCase, StfDocument } from './stf-document.ts';

/** A CLAIM with epoch 0 is always stale: if processed it would be answered, never change state. */
const probe = claim(NODE_A.nodeId, 1, 0, 9);
const probePayload = encodeHeader(probe);

function malformed(title: string, built: string, payload: Uint8Array): StfCase {
  return {
    title,
    built: [built],
    packets: [{ port: NODE_A.port, frame: controlFrame(NODE_A, probe, { payload }) }],
    expects: [],
  };
}

function patched(p4Name: string, value: number): Uint8Array {
  return patchField(probePayload, p4Name, value);
}

const badChecksumFrame = (() => {
  const frame = controlFrame(NODE_A, probe);
  frame[24] = (frame[24] ?? 0) ^ 0xff; // first byte of the IPv4 header checksum
  return frame;
})();

/** An IPv6 frame: EtherType 0x86dd, then a 40-byte header of zeros but version 6 and next header 59. */
const ipv6Frame = (() => {
  const frame = Buffer.alloc(14 + 40);
  Buffer.from(macHex('00:00:0a:00:00:fe').slice(2), 'hex').copy(frame, 0);
  Buffer.from(macHex(UPLINK_HOST.mac).slice(2), 'hex').copy(frame, 6);
  frame.writeUInt16BE(0x86dd, 12);
  frame[14] = 0x60;
  frame[14 + 6] = 59; // no next header
  frame[14 + 7] = 64;
  return frame;
})();

const malformedCases: StfCase[] = [
  malformed(
    'Bad magic: dropped (BadMagic).',
    `Packet: the probe CLAIM with magic 0x${(EDGESHIFT_MAGIC ^ 1).toString(16)}.`,
    patched('magic', EDGESHIFT_MAGIC ^ 1),
  ),
  malformed(
    'Bad version: dropped (BadVersion).',
    `Packet: the probe CLAIM with version ${EDGESHIFT_VERSION + 1}.`,
    patched('version', EDGESHIFT_VERSION + 1),
  ),
  malformed(
    'Packet type 0: dropped (BadPacketType).',
    'Packet: the probe CLAIM with packet_type 0.',
    patched('packet_type', 0),
  ),
  malformed(
    'Packet type 6, one past CLAIM_STALE: dropped (BadPacketType).',
    'Packet: the probe CLAIM with packet_type 6.',
    patched('packet_type', PacketType.CLAIM_STALE + 1),
  ),
  malformed(
    'UDP length 36 (four bytes after the header): dropped (BadLength).',
    'Packet: the probe CLAIM followed by 00000000 in the UDP payload; UDP and IPv4 lengths count them.',
    Buffer.concat([probePayload, Buffer.alloc(4)]),
  ),
  malformed(
    'Node id 0: dropped (BadRange).',
    'Packet: the probe CLAIM with node_id 0.',
    patched('node_id', 0),
  ),
  malformed(
    'Node id 16 (NODE_COUNT): dropped (BadRange).',
    'Packet: the probe CLAIM with node_id 16.',
    patched('node_id', 16),
  ),
  malformed(
    'Service id 64 (SERVICE_COUNT): dropped (BadRange).',
    'Packet: the probe CLAIM with service_id 64.',
    patched('service_id', 64),
  ),
  malformed(
    'Target node id 16: dropped (BadRange).',
    'Packet: the probe CLAIM with target_node_id 16.',
    patched('target_node_id', 16),
  ),
  malformed(
    'CPU load 10001 bp (above 100 %): dropped (BadRange).',
    'Packet: the probe CLAIM with cpu_load_bp 10001.',
    patched('cpu_load_bp', 10001),
  ),
  malformed(
    'Memory load 10001 bp: dropped (BadRange).',
    'Packet: the probe CLAIM with mem_load_bp 10001.',
    patched('mem_load_bp', 10001),
  ),
  malformed(
    'Truncated EdgeShift header (20 of 24 bytes): dropped (PacketTooShort), not forwarded as plain UDP.',
    'Packet: the first 20 bytes of the probe CLAIM as the UDP payload (UDP length 28).',
    probePayload.subarray(0, 20),
  ),
];

const cases: StfCase[] = [
  {
    title: 'Well-formed probe: a CLAIM of service 1 at epoch 0 is answered CLAIM_STALE (owner 0, epoch 0).',
    built: [
      'Packet: encodeHeader(CLAIM node 1, service 1, epoch 0, sequence 9) from node-a.',
      'Expected: turned around as CLAIM_STALE, target_node_id 0, epoch 0. Every malformed case below mutates it.',
    ],
    packets: [{ port: NODE_A.port, frame: controlFrame(NODE_A, probe) }],
    expects: [{ port: NODE_A.port, frame: answerFrame(NODE_A, { ...probe, type: PacketType.CLAIM_STALE }) }],
  },
  ...malformedCases,
  {
    title: 'Bad IPv4 header checksum on the well-formed probe: dropped.',
    built: ['Packet: the probe CLAIM frame with the first byte of the IPv4 checksum inverted.'],
    packets: [{ port: NODE_A.port, frame: badChecksumFrame }],
    expects: [],
  },
  {
    title: 'Non-IPv4 frame (IPv6) from the uplink: dropped, no layer-2 switching (it would leave by port 0).',
    built: [
      'Packet: Ethernet to the data plane MAC, EtherType 0x86dd, IPv6 header of zeros (version 6, next header 59).',
    ],
    packets: [{ port: UPLINK_HOST.port, frame: ipv6Frame }],
    expects: [],
  },
  {
    title: 'The catch-all route works: a plain datagram to the client leaves by port 3.',
    built: [
      'Packet: buildUdpFrame node-a 10.0.1.1:5555 -> client 10.0.3.3:50000, payload "route-check".',
      'Expected: Ethernet source := data plane MAC, destination := client MAC, TTL 63, port 3.',
    ],
    packets: [{ port: NODE_A.port, frame: hostFrame(NODE_A, CLIENT.ipv4, 5555, 50000, 'route-check') }],
    expects: [
      { port: CLIENT.port, frame: forwardedFrame(NODE_A, CLIENT.ipv4, 5555, 50000, 'route-check', CLIENT) },
    ],
  },
];

export const malformedStf: StfDocument = {
  fileName: 'malformed.stf',
  summary: [
    'Step 1 of the ingress: malformed packets are dropped before anything else (docs/protocol.md §2).',
    'Lab network (p4/control-plane/lab.yaml): node-a id 1 10.0.1.1 port 1, client port 3, uplink port 0.',
    'The route 10.0.0.0/8 -> port 3 catches anything forwarded by mistake (the data plane is 10.0.0.254).',
  ],
  setup: [
    nodeTableAdd(NODE_A),
    `add ipv4_lpm hdr.ipv4.dst_addr:0x0a****** ipv4_forward(dst_mac:${macHex(CLIENT.mac)}, port:${CLIENT.port})`,
  ],
  cases,
  closing: {
    comment: `Drops by reason: ${malformedCases.length} malformed (1), 1 IPv4 checksum (2), 1 not IPv4 (3).`,
    lines: [
      'wait',
      `check_counter drop_reasons(1) packets == ${malformedCases.length}`,
      'check_counter drop_reasons(2) packets == 1',
      'check_counter drop_reasons(3) packets == 1',
    ],
  },
};
