// Encodes, decodes and validates the EdgeShift header (layout in edgeshift-protocol.ts). Decoding
// never throws: arbitrary bytes give either a header or a coded reason. Encoding refuses values the
// data plane would reject, so a node cannot emit a packet the P4 parser drops. Used by the node
// monitor, the peer agent, both data planes and the STF test generator.
import {
  EDGESHIFT_MAGIC,
  EDGESHIFT_VERSION,
  HEADER_BYTES,
  HEADER_LAYOUT,
  LOAD_SCALE_BP,
  NODE_COUNT,
  PacketType,
  SERVICE_COUNT,
  type PacketTypeCode,
} from './edgeshift-protocol.ts';

export interface EdgeShiftHeader {
  readonly type: PacketTypeCode;
  readonly nodeId: number;
  readonly serviceId: number;
  readonly sequence: number;
  readonly epoch: number;
  readonly cpuLoadBp: number;
  readonly memLoadBp: number;
  readonly inflightRequests: number;
  readonly targetNodeId: number;
}

/** A header with every field not given set to 0 (no service, no epoch, no load, no target). */
export function headerOf(
  fields: Partial<EdgeShiftHeader> & Pick<EdgeShiftHeader, 'type' | 'nodeId'>,
): EdgeShiftHeader {
  return {
    serviceId: 0,
    sequence: 0,
    epoch: 0,
    cpuLoadBp: 0,
    memLoadBp: 0,
    inflightRequests: 0,
    targetNodeId: 0,
    ...fields,
  };
}

export type HeaderRejectCode =
  | 'ERR_CODEC_BAD_LENGTH'
  | 'ERR_CODEC_BAD_MAGIC'
  | 'ERR_CODEC_BAD_VERSION'
  | 'ERR_CODEC_BAD_TYPE'
  | 'ERR_CODEC_OUT_OF_RANGE';

export type DecodeResult =
  | { readonly ok: true; readonly header: EdgeShiftHeader }
  | { readonly ok: false; readonly code: HeaderRejectCode; readonly reason: string };

const PACKET_TYPE_CODES: ReadonlySet<number> = new Set(Object.values(PacketType));

/** Byte offset of each field, derived from the layout so codec and P4 cannot disagree. */
const FIELD_OFFSETS: ReadonlyMap<string, { offset: number; bits: 8 | 16 | 32 }> = (() => {
  const offsets = new Map<string, { offset: number; bits: 8 | 16 | 32 }>();
  let offset = 0;
  for (const field of HEADER_LAYOUT) {
    offsets.set(field.tsName, { offset, bits: field.bits });
    offset += field.bits / 8;
  }
  return offsets;
})();

function fieldOf(name: string): { offset: number; bits: 8 | 16 | 32 } {
  const field = FIELD_OFFSETS.get(name);
  if (field === undefined) throw new Error(`no field ${name} in HEADER_LAYOUT`);
  return field;
}

function readField(view: DataView, name: string): number {
  const { offset, bits } = fieldOf(name);
  if (bits === 8) return view.getUint8(offset);
  if (bits === 16) return view.getUint16(offset);
  return view.getUint32(offset);
}

function writeField(view: DataView, name: string, value: number): void {
  const { offset, bits } = fieldOf(name);
  if (bits === 8) view.setUint8(offset, value);
  else if (bits === 16) view.setUint16(offset, value);
  else view.setUint32(offset, value);
}

/** Range rules shared by encode and decode; returns the reason for the first violation. */
export function findRangeViolation(header: EdgeShiftHeader): string | undefined {
  for (const field of HEADER_LAYOUT) {
    if (field.tsName === 'magic' || field.tsName === 'version') continue;
    const value = header[field.tsName as keyof EdgeShiftHeader];
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** field.bits) {
      return `${field.tsName} ${value} does not fit ${field.bits} bits`;
    }
  }
  if (!PACKET_TYPE_CODES.has(header.type)) return `type ${header.type} is not a known packet type`;
  if (header.nodeId === 0 || header.nodeId >= NODE_COUNT)
    return `nodeId ${header.nodeId} not in 1..${NODE_COUNT - 1}`;
  if (header.serviceId >= SERVICE_COUNT)
    return `serviceId ${header.serviceId} not in 0..${SERVICE_COUNT - 1}`;
  if (header.targetNodeId >= NODE_COUNT)
    return `targetNodeId ${header.targetNodeId} not in 0..${NODE_COUNT - 1}`;
  if (header.cpuLoadBp > LOAD_SCALE_BP) return `cpuLoadBp ${header.cpuLoadBp} above ${LOAD_SCALE_BP}`;
  if (header.memLoadBp > LOAD_SCALE_BP) return `memLoadBp ${header.memLoadBp} above ${LOAD_SCALE_BP}`;
  return undefined;
}

export class HeaderEncodeError extends RangeError {
  readonly code = 'ERR_CODEC_OUT_OF_RANGE';
}

export function encodeHeader(header: EdgeShiftHeader): Buffer {
  const violation = findRangeViolation(header);
  if (violation !== undefined) throw new HeaderEncodeError(`cannot encode EdgeShift header: ${violation}`);
  const bytes = Buffer.alloc(HEADER_BYTES);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  writeField(view, 'magic', EDGESHIFT_MAGIC);
  writeField(view, 'version', EDGESHIFT_VERSION);
  for (const field of HEADER_LAYOUT) {
    if (field.tsName === 'magic' || field.tsName === 'version') continue;
    writeField(view, field.tsName, header[field.tsName as keyof EdgeShiftHeader]);
  }
  return bytes;
}

/** Decodes a UDP payload; the payload must be exactly one header (the P4 parser checks the UDP length). */
export function decodeHeader(payload: Uint8Array): DecodeResult {
  if (payload.byteLength !== HEADER_BYTES) {
    return {
      ok: false,
      code: 'ERR_CODEC_BAD_LENGTH',
      reason: `payload is ${payload.byteLength} bytes, expected ${HEADER_BYTES}`,
    };
  }
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const magic = readField(view, 'magic');
  if (magic !== EDGESHIFT_MAGIC) {
    return {
      ok: false,
      code: 'ERR_CODEC_BAD_MAGIC',
      reason: `magic 0x${magic.toString(16)} is not 0x${EDGESHIFT_MAGIC.toString(16)}`,
    };
  }
  const version = readField(view, 'version');
  if (version !== EDGESHIFT_VERSION) {
    return {
      ok: false,
      code: 'ERR_CODEC_BAD_VERSION',
      reason: `version ${version} is not ${EDGESHIFT_VERSION}`,
    };
  }
  const type = readField(view, 'type');
  if (!PACKET_TYPE_CODES.has(type))
    return { ok: false, code: 'ERR_CODEC_BAD_TYPE', reason: `type ${type} is unknown` };
  const header: EdgeShiftHeader = {
    type: type as PacketTypeCode,
    nodeId: readField(view, 'nodeId'),
    serviceId: readField(view, 'serviceId'),
    sequence: readField(view, 'sequence'),
    epoch: readField(view, 'epoch'),
    cpuLoadBp: readField(view, 'cpuLoadBp'),
    memLoadBp: readField(view, 'memLoadBp'),
    inflightRequests: readField(view, 'inflightRequests'),
    targetNodeId: readField(view, 'targetNodeId'),
  };
  const violation = findRangeViolation(header);
  if (violation !== undefined) return { ok: false, code: 'ERR_CODEC_OUT_OF_RANGE', reason: violation };
  return { ok: true, header };
}

/** Serial-number comparison (RFC 1982, 32 bits): is `next` newer than `previous`? Same rule as the P4 program. */
export function isNewerSequence(next: number, previous: number): boolean {
  const distance = (next - previous) >>> 0;
  return distance !== 0 && distance < 0x8000_0000;
}
