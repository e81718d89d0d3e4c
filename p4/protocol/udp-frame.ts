// Builds Ethernet/IPv4/UDP frames byte-exactly as BMv2 would carry them, and the address and
// checksum helpers both data planes share: the reference pipeline deparses with these, the STF test
// generator builds its packet and expect lines with them, and the socket relay wraps datagrams in them.
import {
  ETHERNET_HEADER_BYTES,
  ETHERTYPE_IPV4,
  IP_PROTOCOL_UDP,
  IPV4_HEADER_BYTES,
  UDP_HEADER_BYTES,
} from './edgeshift-protocol.ts';

export function parseMac(text: string): number[] {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((part) => !/^[0-9a-fA-F]{2}$/.test(part))) {
    throw new RangeError(`MAC address '${text}' is not six hex octets separated by ':'`);
  }
  return parts.map((part) => Number.parseInt(part, 16));
}

export function formatMac(bytes: Uint8Array | readonly number[]): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join(':');
}

export function parseIpv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((part) => !/^\d{1,3}$/.test(part) || Number(part) > 255)) {
    throw new RangeError(`IPv4 address '${text}' is not four decimal octets`);
  }
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

/** One's-complement sum of 16-bit words, folded (RFC 1071); odd lengths are padded with a zero byte. */
function onesComplementSum(chunks: readonly Uint8Array[]): number {
  let sum = 0;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i += 2) sum += (chunk[i]! << 8) | (chunk[i + 1] ?? 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The IPv4 header checksum over a 20-byte header whose checksum field is ignored (treated as zero). */
export function ipv4HeaderChecksum(header: Uint8Array): number {
  const copy = Uint8Array.from(header.subarray(0, IPV4_HEADER_BYTES));
  copy[10] = 0;
  copy[11] = 0;
  return ~onesComplementSum([copy]) & 0xffff;
}

/** The UDP checksum over the IPv4 pseudo-header, the UDP header (checksum ignored) and the payload. */
export function udpChecksum(srcIp: number, dstIp: number, udpSegment: Uint8Array): number {
  const pseudo = Buffer.alloc(12);
  pseudo.writeUInt32BE(srcIp >>> 0, 0);
  pseudo.writeUInt32BE(dstIp >>> 0, 4);
  pseudo[9] = IP_PROTOCOL_UDP;
  pseudo.writeUInt16BE(udpSegment.length, 10);
  const segment = Uint8Array.from(udpSegment);
  segment[6] = 0;
  segment[7] = 0;
  const sum = ~onesComplementSum([pseudo, segment]) & 0xffff;
  return sum === 0 ? 0xffff : sum; // RFC 768: a computed zero is sent as all ones
}

export interface UdpFrameSpec {
  readonly srcMac: string;
  readonly dstMac: string;
  readonly srcIp: string;
  readonly dstIp: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
  readonly ttl?: number;
  readonly identification?: number;
  /** 'compute' (default) fills the UDP checksum; 'zero' sends none, as IPv4 allows. */
  readonly udpChecksum?: 'compute' | 'zero';
}

export function buildUdpFrame(spec: UdpFrameSpec): Buffer {
  const udpLength = UDP_HEADER_BYTES + spec.payload.length;
  const frame = Buffer.alloc(ETHERNET_HEADER_BYTES + IPV4_HEADER_BYTES + udpLength);
  Buffer.from(parseMac(spec.dstMac)).copy(frame, 0);
  Buffer.from(parseMac(spec.srcMac)).copy(frame, 6);
  frame.writeUInt16BE(ETHERTYPE_IPV4, 12);

  const ip = ETHERNET_HEADER_BYTES;
  frame[ip] = 0x45; // version 4, IHL 5 (no options)
  frame.writeUInt16BE(IPV4_HEADER_BYTES + udpLength, ip + 2);
  frame.writeUInt16BE(spec.identification ?? 0, ip + 4);
  frame[ip + 8] = spec.ttl ?? 64;
  frame[ip + 9] = IP_PROTOCOL_UDP;
  const srcIp = parseIpv4(spec.srcIp);
  const dstIp = parseIpv4(spec.dstIp);
  frame.writeUInt32BE(srcIp >>> 0, ip + 12);
  frame.writeUInt32BE(dstIp >>> 0, ip + 16);
  frame.writeUInt16BE(ipv4HeaderChecksum(frame.subarray(ip, ip + IPV4_HEADER_BYTES)), ip + 10);

  const udp = ip + IPV4_HEADER_BYTES;
  frame.writeUInt16BE(spec.srcPort, udp);
  frame.writeUInt16BE(spec.dstPort, udp + 2);
  frame.writeUInt16BE(udpLength, udp + 4);
  Buffer.from(spec.payload).copy(frame, udp + UDP_HEADER_BYTES);
  if (spec.udpChecksum !== 'zero')
    frame.writeUInt16BE(udpChecksum(srcIp, dstIp, frame.subarray(udp)), udp + 6);
  return frame;
}
