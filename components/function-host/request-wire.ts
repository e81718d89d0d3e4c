// The request path's datagram format: one JSON request per UDP datagram and one JSON reply per
// request, as sent by clients (and the load generator) to a service's VIP:port and answered by the
// node that owns the service. Parsed and validated here once; everything inward sees typed values.
// A forwarded request (old owner → new owner during a migration) carries the client's address in
// `replyTo`, so the new owner answers the client directly and the data plane maps the reply to the VIP.
import {
  MAX_HAND_OFF_PARTS,
  MAX_MIRROR_PARTS,
  type HandOffPart,
  type MirrorPart,
  type SealedHandOff,
} from './hand-off-seal.ts';

export interface FunctionRequest {
  /** Unique per client and request (e.g. "<clientId>:<sequence>"): the key of duplicate detection. */
  readonly id: string;
  /** Service name the request is for (the function's name). */
  readonly service: string;
  /** State partition key (for example a sensor id); requests with the same key are processed in order. */
  readonly key: string;
  readonly body: unknown;
  readonly replyTo?: { readonly address: string; readonly port: number };
  /** How many times a node forwarded this request; bounded so a routing loop ends in an error reply. */
  readonly hops?: number;
}

export interface FunctionReply {
  readonly id: string;
  readonly ok: boolean;
  readonly body?: unknown;
  readonly error?: { readonly code: string; readonly message: string };
  /** Which node processed it, at which epoch: lets a client see a migration. */
  readonly node: string;
  readonly epoch: number;
}

export const MAX_DATAGRAM_BYTES = 65_507;

export type Parsed<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(bytes: Uint8Array): Parsed<Record<string, unknown>> {
  if (bytes.byteLength > MAX_DATAGRAM_BYTES)
    return { ok: false, reason: `datagram of ${bytes.byteLength} bytes` };
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  return isRecord(value) ? { ok: true, value } : { ok: false, reason: 'not a JSON object' };
}

function parseReplyTo(value: unknown): Parsed<FunctionRequest['replyTo']> {
  if (value === undefined) return { ok: true, value: undefined };
  if (!isRecord(value) || typeof value.address !== 'string' || typeof value.port !== 'number') {
    return { ok: false, reason: 'replyTo must be {address: string, port: number}' };
  }
  if (!Number.isInteger(value.port) || value.port < 1 || value.port > 65_535) {
    return { ok: false, reason: `replyTo.port ${value.port} out of range` };
  }
  return { ok: true, value: { address: value.address, port: value.port } };
}

export function parseRequest(bytes: Uint8Array): Parsed<FunctionRequest> {
  const json = parseJson(bytes);
  return json.ok ? requestFromRecord(json.value) : json;
}

function requestFromRecord(value: Record<string, unknown>): Parsed<FunctionRequest> {
  const { id, service, key, body } = value;
  if (typeof id !== 'string' || id.length === 0)
    return { ok: false, reason: 'id must be a non-empty string' };
  if (typeof service !== 'string' || service.length === 0)
    return { ok: false, reason: 'service must be a non-empty string' };
  if (typeof key !== 'string') return { ok: false, reason: 'key must be a string' };
  const replyTo = parseReplyTo(value.replyTo);
  if (!replyTo.ok) return replyTo;
  const { hops } = value;
  if (hops !== undefined && (!Number.isInteger(hops) || (hops as number) < 0)) {
    return { ok: false, reason: 'hops must be a non-negative integer' };
  }
  return {
    ok: true,
    value: {
      id,
      service,
      key,
      body,
      ...(replyTo.value ? { replyTo: replyTo.value } : {}),
      ...(hops === undefined ? {} : { hops: hops as number }),
    },
  };
}

export function parseReply(bytes: Uint8Array): Parsed<FunctionReply> {
  const json = parseJson(bytes);
  if (!json.ok) return json;
  const { id, ok, body, error, node, epoch } = json.value;
  if (typeof id !== 'string') return { ok: false, reason: 'id must be a string' };
  if (typeof ok !== 'boolean') return { ok: false, reason: 'ok must be a boolean' };
  if (typeof node !== 'string') return { ok: false, reason: 'node must be a string' };
  if (typeof epoch !== 'number') return { ok: false, reason: 'epoch must be a number' };
  if (
    error !== undefined &&
    (!isRecord(error) || typeof error.code !== 'string' || typeof error.message !== 'string')
  ) {
    return { ok: false, reason: 'error must be {code, message}' };
  }
  return {
    ok: true,
    value: {
      id,
      ok,
      body,
      node,
      epoch,
      ...(error ? { error: { code: error.code as string, message: error.message as string } } : {}),
    },
  };
}

/**
 * Sent by the old owner to the new owner's service port after the last request it buffered during the
 * freeze has been forwarded: the new owner holds direct arrivals until then, so per-key order survives
 * the cutover. A source that served through its freeze names how many mirrors it sent: the new owner
 * also waits for those.
 */
export interface HandOverMarker {
  readonly handOverComplete: { readonly service: string; readonly epoch: number; readonly mirrors?: number };
}

/**
 * Sent by the new owner's agent to the old owner's service port once its cutover is done, with the
 * token the old owner's agent handed both sides: the old owner hands over at once instead of waiting
 * for the answer to travel back through both agents. Duplicates and strays change nothing.
 */
export interface CutoverNotice {
  readonly cutoverNotice: { readonly service: string; readonly epoch: number; readonly token: string };
}

/** Sent by a frozen source straight to the new owner's service port: its last delta, sealed (hand-off-seal.ts), in parts. */
export interface HandOffDatagram {
  readonly handOff: HandOffPart;
}

/**
 * Between the two function hosts of a move whose TakeOver ended with no answer: the old owner's
 * question and the new owner's answer, sealed under the move's hand-off key (sealFence).
 */
export interface FenceDatagram {
  readonly fence: SealedHandOff;
}

/**
 * Sent by a source that serves through its freeze (state-mirror.ts) to the new owner's service port:
 * one per request it finished, its writes and its reply, sealed (sealMirror), numbered from 0, in parts.
 */
export interface MirrorDatagram {
  readonly mirror: MirrorPart;
}

/** The new owner's receipt: it holds every mirror numbered below `through`. */
export interface MirrorAckDatagram {
  readonly mirrorAck: { readonly service: string; readonly epoch: number; readonly through: number };
}

export type Datagram =
  | { readonly kind: 'request'; readonly request: FunctionRequest }
  | { readonly kind: 'handOff'; readonly handOff: HandOffPart }
  | { readonly kind: 'mirror'; readonly mirror: MirrorPart }
  | { readonly kind: 'mirrorAck'; readonly service: string; readonly epoch: number; readonly through: number }
  | { readonly kind: 'fence'; readonly fence: SealedHandOff }
  | {
      readonly kind: 'handOverComplete';
      readonly service: string;
      readonly epoch: number;
      readonly mirrors?: number;
    }
  | {
      readonly kind: 'cutoverNotice';
      readonly service: string;
      readonly epoch: number;
      readonly token: string;
    };

function parseServiceEpoch(
  value: unknown,
  name: string,
): Parsed<{ service: string; epoch: number; rest: Record<string, unknown> }> {
  if (!isRecord(value) || typeof value.service !== 'string' || !Number.isInteger(value.epoch)) {
    return { ok: false, reason: `${name} must be {service: string, epoch: integer, ...}` };
  }
  return { ok: true, value: { service: value.service, epoch: value.epoch as number, rest: value } };
}

function parseSealed(
  value: unknown,
  name: string,
): Parsed<SealedHandOff & { rest: Record<string, unknown> }> {
  const header = parseServiceEpoch(value, name);
  if (!header.ok) return header;
  const { service, epoch, rest } = header.value;
  const { migrationId, sealed } = rest;
  if (typeof migrationId !== 'string' || migrationId.length === 0 || typeof sealed !== 'string') {
    return { ok: false, reason: `${name} must carry migrationId and sealed strings` };
  }
  return { ok: true, value: { service, migrationId, epoch, sealed, rest } };
}

function isCount(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0;
}

/** A sealed message's share: part 0..parts-1 of 1..maxParts parts. */
function parsePart(
  value: unknown,
  name: string,
  maxParts: number,
): Parsed<{ part: HandOffPart; rest: Record<string, unknown> }> {
  const header = parseSealed(value, name);
  if (!header.ok) return header;
  const { service, migrationId, epoch, sealed, rest } = header.value;
  const { part, parts } = rest;
  const isPartOf = isCount(parts) && isCount(part) && parts >= 1 && parts <= maxParts && part < parts;
  if (!isPartOf) return { ok: false, reason: `${name} must be part 0..parts-1 of 1..${maxParts} parts` };
  return { ok: true, value: { part: { service, migrationId, epoch, sealed, part, parts }, rest } };
}

function parseHandOff(value: unknown): Parsed<Datagram> {
  const parsed = parsePart(value, 'handOff', MAX_HAND_OFF_PARTS);
  return parsed.ok ? { ok: true, value: { kind: 'handOff', handOff: parsed.value.part } } : parsed;
}

function parseMirror(value: unknown): Parsed<Datagram> {
  const parsed = parsePart(value, 'mirror', MAX_MIRROR_PARTS);
  if (!parsed.ok) return parsed;
  const { part, rest } = parsed.value;
  if (!isCount(rest.seq)) return { ok: false, reason: 'mirror.seq must be a non-negative integer' };
  return { ok: true, value: { kind: 'mirror', mirror: { ...part, seq: rest.seq } } };
}

function parseMirrorAck(value: unknown): Parsed<Datagram> {
  const header = parseServiceEpoch(value, 'mirrorAck');
  if (!header.ok) return header;
  const { service, epoch, rest } = header.value;
  if (!isCount(rest.through))
    return { ok: false, reason: 'mirrorAck.through must be a non-negative integer' };
  return { ok: true, value: { kind: 'mirrorAck', service, epoch, through: rest.through } };
}

function parseMarker(value: unknown): Parsed<Datagram> {
  const marker = parseServiceEpoch(value, 'handOverComplete');
  if (!marker.ok) return marker;
  const { service, epoch, rest } = marker.value;
  if (rest.mirrors === undefined) return { ok: true, value: { kind: 'handOverComplete', service, epoch } };
  if (!isCount(rest.mirrors)) {
    return { ok: false, reason: 'handOverComplete.mirrors must be a non-negative integer' };
  }
  return { ok: true, value: { kind: 'handOverComplete', service, epoch, mirrors: rest.mirrors } };
}

/**
 * What a service port receives: a request, the old owner's hand-over marker, sealed hand-off or
 * mirror, the new owner's notice or receipt of mirrors, or a fence exchange.
 */
export function parseDatagram(bytes: Uint8Array): Parsed<Datagram> {
  const json = parseJson(bytes);
  if (!json.ok) return json;
  const { handOverComplete, cutoverNotice, handOff, fence, mirror, mirrorAck } = json.value;
  if (handOff !== undefined) return parseHandOff(handOff);
  if (mirror !== undefined) return parseMirror(mirror);
  if (mirrorAck !== undefined) return parseMirrorAck(mirrorAck);
  if (fence !== undefined) {
    const sealed = parseSealed(fence, 'fence');
    if (!sealed.ok) return sealed;
    const { service, migrationId, epoch } = sealed.value;
    return {
      ok: true,
      value: { kind: 'fence', fence: { service, migrationId, epoch, sealed: sealed.value.sealed } },
    };
  }
  if (handOverComplete !== undefined) return parseMarker(handOverComplete);
  if (cutoverNotice !== undefined) {
    const notice = parseServiceEpoch(cutoverNotice, 'cutoverNotice');
    if (!notice.ok) return notice;
    const { service, epoch, rest } = notice.value;
    if (typeof rest.token !== 'string' || rest.token.length === 0) {
      return { ok: false, reason: 'cutoverNotice.token must be a non-empty string' };
    }
    return { ok: true, value: { kind: 'cutoverNotice', service, epoch, token: rest.token } };
  }
  const request = requestFromRecord(json.value);
  return request.ok ? { ok: true, value: { kind: 'request', request: request.value } } : request;
}

export function encodeMessage(
  message:
    | FunctionRequest
    | FunctionReply
    | HandOverMarker
    | CutoverNotice
    | HandOffDatagram
    | FenceDatagram
    | MirrorDatagram
    | MirrorAckDatagram,
): Buffer {
  return Buffer.from(JSON.stringify(message), 'utf8');
}
