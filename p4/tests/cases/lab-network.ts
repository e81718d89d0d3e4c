// The STF lab network (the same addresses as p4/control-plane/lab.yaml) and the frame builders the
// case modules use: every packet and every expected frame is built with the project's codec
// (encodeHeader) and frame builder (buildUdpFrame), the expected ones written out from
// docs/protocol.md (turned around, rewritten), never by running a pipeline.
import { encodeHeader, headerOf, type EdgeShiftHeader } from '../../protocol/edgeshift-header.ts';
import {
  EDGESHIFT_UDP_PORT,
  HEADER_LAYOUT,
  PacketType,
  type PacketTypeCode,
} from '../../protocol/edgeshift-protocol.ts';
import {
  buildUdpFrame,
  ipv4HeaderChecksum,
  parseIpv4,
  parseMac,
  type UdpFrameSpec,
} from '../../protocol/udp-frame.ts';

export interface LabHost {
  readonly name: string;
  readonly ipv4: string;
  readonly mac: string;
  /** Switch port the host is attached to. */
  readonly port: number;
}

export interface LabNode extends LabHost {
  readonly nodeId: number;
  /** UDP source port of the node's EdgeShift control socket. */
  readonly controlPort: number;
  readonly peerNodeId: number;
  readonly offloadServiceId: number;
}

/** The data plane's own addresses: nodes send control packets to them. */
export const DATA_PLANE = { ipv4: '10.0.0.254', mac: '00:00:0a:00:00:fe' } as const;

export const NODE_A: LabNode = {
  name: 'node-a',
  nodeId: 1,
  ipv4: '10.0.1.1',
  mac: '00:00:0a:00:01:01',
  port: 1,
  controlPort: 40001,
  peerNodeId: 2,
  offloadServiceId: 1,
};

export const NODE_B: LabNode = {
  name: 'node-b',
  nodeId: 2,
  ipv4: '10.0.2.2',
  mac: '00:00:0a:00:02:02',
  port: 2,
  controlPort: 40002,
  peerNodeId: 1,
  offloadServiceId: 1,
};

export const CLIENT: LabHost = { name: 'client', ipv4: '10.0.3.3', mac: '00:00:0a:00:03:03', port: 3 };
/** A host behind the uplink, port 0: also where a packet with no egress decision would leave. */
export const UPLINK_HOST: LabHost = { name: 'uplink', ipv4: '10.9.0.9', mac: '00:00:0a:09:00:09', port: 0 };

export const VIP = '10.0.100.1';
export const SENSOR_STATS = { serviceId: 1, udpPort: 9101 } as const; // stateful
export const INGEST = { serviceId: 2, udpPort: 9100 } as const; // stateless
export const CLIENT_UDP_PORT = 50000;

const TTL = 64;

export function hexNumber(value: number, digits: number): string {
  return '0x' + value.toString(16).padStart(digits, '0');
}

export function ipv4Hex(address: string): string {
  return hexNumber(parseIpv4(address), 8);
}

export function macHex(address: string): string {
  return (
    '0x' +
    parseMac(address)
      .map((byte) => byte.toString(16).padStart(2, '0'))
      .join('')
  );
}

export function nodeTableAdd(node: LabNode): string {
  return (
    `add node_table meta.node_id:${node.nodeId} set_node(ipv4_addr:${ipv4Hex(node.ipv4)}, ` +
    `mac_addr:${macHex(node.mac)}, port:${node.port}, peer_node_id:${node.peerNodeId}, ` +
    `offload_service_id:${node.offloadServiceId})`
  );
}

export interface Policy {
  readonly loadHighBp: number;
  readonly loadLowBp: number;
  readonly overloadReports: number;
  readonly livenessReports: number;
}

export function policySetDefault(policy: Policy): string {
  return (
    `setdefault policy_table set_policy(load_high_bp:${policy.loadHighBp}, load_low_bp:${policy.loadLowBp}, ` +
    `overload_reports:${policy.overloadReports}, liveness_reports:${policy.livenessReports}, liveness_timeout_us:0)`
  );
}

export function header(
  type: PacketTypeCode,
  nodeId: number,
  fields: Partial<Omit<EdgeShiftHeader, 'type' | 'nodeId'>> = {},
): EdgeShiftHeader {
  return headerOf({ ...fields, type, nodeId });
}

export function metrics(
  nodeId: number,
  sequence: number,
  cpuLoadBp: number,
  memLoadBp: number,
  inflightRequests = 0,
): EdgeShiftHeader {
  return header(PacketType.METRICS, nodeId, { sequence, cpuLoadBp, memLoadBp, inflightRequests });
}

export function claim(nodeId: number, serviceId: number, epoch: number, sequence: number): EdgeShiftHeader {
  return header(PacketType.CLAIM, nodeId, { serviceId, epoch, sequence });
}

/** Overwrites one field of an encoded header, bypassing the codec's range checks (for malformed cases). */
export function patchField(payload: Uint8Array, p4Name: string, value: number): Uint8Array {
  const patched = Buffer.from(payload);
  let offset = 0;
  for (const field of HEADER_LAYOUT) {
    if (field.p4Name === p4Name) {
      patched.writeUIntBE(value, offset, field.bits / 8);
      return patched;
    }
    offset += field.bits / 8;
  }
  throw new RangeError(`no field ${p4Name} in HEADER_LAYOUT`);
}

export interface ControlFrameOptions {
  /** Source IPv4 address when it differs from the node's own (spoofing). */
  readonly srcIpv4?: string;
  /** The UDP payload when it is not exactly the encoded header (malformed cases). */
  readonly payload?: Uint8Array;
}

/** The UDP frame spec of a node's control packet to the data plane, as the node monitor sends it. */
export function controlFrameSpec(node: LabNode, payload: Uint8Array, srcIpv4 = node.ipv4): UdpFrameSpec {
  return {
    srcMac: node.mac,
    dstMac: DATA_PLANE.mac,
    srcIp: srcIpv4,
    dstIp: DATA_PLANE.ipv4,
    srcPort: node.controlPort,
    dstPort: EDGESHIFT_UDP_PORT,
    payload,
    ttl: TTL,
  };
}

export function controlFrame(
  node: LabNode,
  sent: EdgeShiftHeader,
  options: ControlFrameOptions = {},
): Buffer {
  return buildUdpFrame(controlFrameSpec(node, options.payload ?? encodeHeader(sent), options.srcIpv4));
}

/**
 * The data plane's answer to a node's control packet (docs/protocol.md §2, turning a packet around):
 * Ethernet, IPv4 and UDP source and destination swapped, TTL unchanged, UDP checksum 0, IPv4
 * checksum recomputed, the EdgeShift header replaced by `answer`. It leaves by the node's port.
 */
export function answerFrame(node: LabNode, answer: EdgeShiftHeader): Buffer {
  return buildUdpFrame({
    srcMac: DATA_PLANE.mac,
    dstMac: node.mac,
    srcIp: DATA_PLANE.ipv4,
    dstIp: node.ipv4,
    srcPort: EDGESHIFT_UDP_PORT,
    dstPort: node.controlPort,
    payload: encodeHeader(answer),
    ttl: TTL,
    udpChecksum: 'zero',
  });
}

/** A client request to the VIP of a service, with a UDP checksum as a client's stack computes it. */
export function requestFrame(serviceUdpPort: number, body: string): Buffer {
  return buildUdpFrame({
    srcMac: CLIENT.mac,
    dstMac: DATA_PLANE.mac,
    srcIp: CLIENT.ipv4,
    dstIp: VIP,
    srcPort: CLIENT_UDP_PORT,
    dstPort: serviceUdpPort,
    payload: Buffer.from(body),
    ttl: TTL,
  });
}

/**
 * A request steered to `node` (docs/protocol.md §2, SteerRequest): Ethernet source := the old
 * Ethernet destination, Ethernet destination := node MAC, IPv4 destination := node address,
 * TTL - 1, UDP checksum 0, ports and payload unchanged.
 */
export function steeredRequestFrame(node: LabNode, serviceUdpPort: number, body: string): Buffer {
  return buildUdpFrame({
    srcMac: DATA_PLANE.mac,
    dstMac: node.mac,
    srcIp: CLIENT.ipv4,
    dstIp: node.ipv4,
    srcPort: CLIENT_UDP_PORT,
    dstPort: serviceUdpPort,
    payload: Buffer.from(body),
    ttl: TTL - 1,
    udpChecksum: 'zero',
  });
}

/** A plain UDP datagram between two hosts, sent to the data plane's MAC as the hosts' router. */
export function hostFrame(
  from: LabHost,
  toIpv4: string,
  srcPort: number,
  dstPort: number,
  body: string,
): Buffer {
  return buildUdpFrame({
    srcMac: from.mac,
    dstMac: DATA_PLANE.mac,
    srcIp: from.ipv4,
    dstIp: toIpv4,
    srcPort,
    dstPort,
    payload: Buffer.from(body),
    ttl: TTL,
  });
}

/**
 * `hostFrame` after ipv4_forward to `nextHop` (docs/protocol.md §2, Forwarding): Ethernet source :=
 * the old Ethernet destination, Ethernet destination := next hop MAC, TTL - 1. The UDP checksum is
 * untouched (TTL is not in the pseudo-header), or 0 when reply_table rewrote the source to the VIP.
 */
export function forwardedFrame(
  from: LabHost,
  toIpv4: string,
  srcPort: number,
  dstPort: number,
  body: string,
  nextHop: LabHost,
  vipSource?: string,
): Buffer {
  return buildUdpFrame({
    srcMac: DATA_PLANE.mac,
    dstMac: nextHop.mac,
    srcIp: vipSource ?? from.ipv4,
    dstIp: toIpv4,
    srcPort,
    dstPort,
    payload: Buffer.from(body),
    ttl: TTL - 1,
    udpChecksum: vipSource === undefined ? 'compute' : 'zero',
  });
}

/**
 * An ICMP echo request (IPv4 protocol 1, so no UDP header is parsed), built by hand: the frame
 * builder only makes UDP. The IPv4 checksum comes from ipv4HeaderChecksum; the ICMP checksum from
 * the same one's-complement sum over the 8-byte ICMP header and payload.
 */
export function icmpEchoFrame(
  srcMac: string,
  dstMac: string,
  srcIpv4: string,
  dstIpv4: string,
  ttl: number,
): Buffer {
  const icmp = Buffer.from([8, 0, 0, 0, 0x12, 0x34, 0, 1, 0x70, 0x69, 0x6e, 0x67]); // type 8, id 0x1234, seq 1, "ping"
  let sum = 0;
  for (let i = 0; i < icmp.length; i += 2) sum += (icmp[i]! << 8) | (icmp[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  icmp.writeUInt16BE(~sum & 0xffff, 2);
  const frame = Buffer.alloc(14 + 20 + icmp.length);
  Buffer.from(parseMac(dstMac)).copy(frame, 0);
  Buffer.from(parseMac(srcMac)).copy(frame, 6);
  frame.writeUInt16BE(0x0800, 12);
  frame[14] = 0x45;
  frame.writeUInt16BE(20 + icmp.length, 16);
  frame[22] = ttl;
  frame[23] = 1; // ICMP
  frame.writeUInt32BE(parseIpv4(srcIpv4), 26);
  frame.writeUInt32BE(parseIpv4(dstIpv4), 30);
  frame.writeUInt16BE(ipv4HeaderChecksum(frame.subarray(14, 34)), 24);
  icmp.copy(frame, 34);
  return frame;
}
