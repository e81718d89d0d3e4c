// Parser and deparser of the reference pipeline (docs/protocol.md §2, Parser): Ethernet → IPv4 →
// UDP → EdgeShift header, with the program's named errors and the IPv4 checksum check. The parsed
// frame is a private copy that actions rewrite in place; since no action adds or removes a header,
// deparsing is that copy with the IPv4 checksum recomputed, byte for byte what BMv2 emits.
import { decodeHeader, type EdgeShiftHeader, type HeaderRejectCode } from '../protocol/edgeshift-header.ts';
import {
  EDGESHIFT_UDP_PORT,
  ETHERNET_HEADER_BYTES,
  ETHERTYPE_IPV4,
  HEADER_BYTES,
  HEADER_LAYOUT,
  IP_PROTOCOL_UDP,
  IPV4_HEADER_BYTES,
  UDP_HEADER_BYTES,
} from '../protocol/edgeshift-protocol.ts';
import { ipv4HeaderChecksum } from '../protocol/udp-frame.ts';

/** core.p4's PacketTooShort plus the program's own `error` declarations. */
export type ParserError =
  'NoError' | 'PacketTooShort' | 'BadMagic' | 'BadVersion' | 'BadPacketType' | 'BadLength' | 'BadRange';

export const IPV4_OFFSET = ETHERNET_HEADER_BYTES;
export const UDP_OFFSET = IPV4_OFFSET + IPV4_HEADER_BYTES;
export const EDGESHIFT_OFFSET = UDP_OFFSET + UDP_HEADER_BYTES;
const EDGESHIFT_END = EDGESHIFT_OFFSET + HEADER_BYTES;

/** Absolute frame offsets of header fields the pipeline reads or rewrites. */
export const FIELD = {
  ethDst: 0,
  ethSrc: 6,
  etherType: 12,
  ipv4VersionIhl: IPV4_OFFSET,
  ipv4Ttl: IPV4_OFFSET + 8,
  ipv4Protocol: IPV4_OFFSET + 9,
  ipv4Checksum: IPV4_OFFSET + 10,
  ipv4Src: IPV4_OFFSET + 12,
  ipv4Dst: IPV4_OFFSET + 16,
  udpSrcPort: UDP_OFFSET,
  udpDstPort: UDP_OFFSET + 2,
  udpLength: UDP_OFFSET + 4,
  udpChecksum: UDP_OFFSET + 6,
} as const;

/** Absolute frame offset of each EdgeShift header field, derived from the one layout. */
export type EdgeShiftFieldName = keyof EdgeShiftHeader | 'magic' | 'version';

export const EDGESHIFT_FIELD: Readonly<Record<EdgeShiftFieldName, number>> = (() => {
  const offsets: Record<string, number> = {};
  let offset = EDGESHIFT_OFFSET;
  for (const field of HEADER_LAYOUT) {
    offsets[field.tsName] = offset;
    offset += field.bits / 8;
  }
  return offsets as Record<EdgeShiftFieldName, number>;
})();

export interface ParsedFrame {
  /** Private copy of the frame; actions rewrite it in place. */
  readonly bytes: Buffer;
  readonly parserError: ParserError;
  readonly isIpv4Valid: boolean;
  readonly isUdpValid: boolean;
  readonly isEdgeShiftValid: boolean;
  /** v1model `checksum_error`: the IPv4 header checksum did not verify. */
  readonly isChecksumError: boolean;
}

const REJECT_TO_ERROR: Record<HeaderRejectCode, ParserError> = {
  ERR_CODEC_BAD_LENGTH: 'PacketTooShort',
  ERR_CODEC_BAD_MAGIC: 'BadMagic',
  ERR_CODEC_BAD_VERSION: 'BadVersion',
  ERR_CODEC_BAD_TYPE: 'BadPacketType',
  ERR_CODEC_OUT_OF_RANGE: 'BadRange',
};

function result(bytes: Buffer, parserError: ParserError, depth: 0 | 1 | 2 | 3): ParsedFrame {
  const isIpv4Valid = depth >= 1;
  const isChecksumError =
    isIpv4Valid &&
    ipv4HeaderChecksum(bytes.subarray(IPV4_OFFSET, UDP_OFFSET)) !== bytes.readUInt16BE(FIELD.ipv4Checksum);
  return {
    bytes,
    parserError,
    isIpv4Valid,
    isUdpValid: depth >= 2,
    isEdgeShiftValid: depth >= 3,
    isChecksumError,
  };
}

/** Runs the parser over a copy of `frame`. Never throws. */
export function parseFrame(frame: Uint8Array): ParsedFrame {
  const bytes = Buffer.from(frame);
  if (bytes.length < ETHERNET_HEADER_BYTES) return result(bytes, 'PacketTooShort', 0);
  if (bytes.readUInt16BE(FIELD.etherType) !== ETHERTYPE_IPV4) return result(bytes, 'NoError', 0);
  if (bytes.length < UDP_OFFSET) return result(bytes, 'PacketTooShort', 0);
  const isUdpNext = bytes[FIELD.ipv4VersionIhl]! % 16 === 5 && bytes[FIELD.ipv4Protocol] === IP_PROTOCOL_UDP;
  if (!isUdpNext) return result(bytes, 'NoError', 1);
  if (bytes.length < EDGESHIFT_OFFSET) return result(bytes, 'PacketTooShort', 1);
  if (bytes.readUInt16BE(FIELD.udpDstPort) !== EDGESHIFT_UDP_PORT) return result(bytes, 'NoError', 2);
  if (bytes.length < EDGESHIFT_END) return result(bytes, 'PacketTooShort', 2);
  return result(bytes, verifyEdgeShift(bytes), 3);
}

/** The parser's `verify` statements, in the program's order: magic, version, type, UDP length, ranges. */
function verifyEdgeShift(bytes: Buffer): ParserError {
  const decoded = decodeHeader(bytes.subarray(EDGESHIFT_OFFSET, EDGESHIFT_END));
  if (!decoded.ok && decoded.code !== 'ERR_CODEC_OUT_OF_RANGE') return REJECT_TO_ERROR[decoded.code];
  if (bytes.readUInt16BE(FIELD.udpLength) !== UDP_HEADER_BYTES + HEADER_BYTES) return 'BadLength';
  if (!decoded.ok) return REJECT_TO_ERROR[decoded.code];
  return 'NoError';
}

/** The deparser with the checksum-computation control: IPv4 checksum recomputed when IPv4 is valid. */
export function deparseFrame(parsed: ParsedFrame): Buffer {
  if (parsed.isIpv4Valid) {
    const checksum = ipv4HeaderChecksum(parsed.bytes.subarray(IPV4_OFFSET, UDP_OFFSET));
    parsed.bytes.writeUInt16BE(checksum, FIELD.ipv4Checksum);
  }
  return parsed.bytes;
}
