// Frames of the function host's control channel (control-channel.ts serves it, the agent's
// agent/function-host-channel.ts calls it): the control operations of function-host-api.ts on a local
// TCP stream, with a message's one byte field (a chunk, a delta) carried raw instead of as base64 in
// JSON. A frame is: u32 length of the rest | u32 header length | header (UTF-8 JSON) | body bytes.
// The header names the field the body belongs to (bytesField); the first frame of a connection is
// the hello with the channel's token.
import type { Writable } from 'node:stream';

import { EdgeShiftError } from '../common/errors.ts';

/** A chunk may be up to 8 MiB (maxChunkBytes); the header and a reply around it stay far below 1 MiB. */
export const MAX_FRAME_BYTES = 9 * 1024 * 1024;
const LENGTH_BYTES = 4;

export interface ChannelHeader {
  readonly id: number;
  /** Hello (first frame only): the token openControlChannel handed out over IPC. */
  readonly hello?: string;
  /** Request: the control request without its byte field. */
  readonly request?: Record<string, unknown>;
  /** Reply: ok with the result (without its byte field), or the error. */
  readonly ok?: boolean;
  readonly result?: unknown;
  readonly error?: { readonly code: string; readonly message: string };
  /** The top-level field of request or result that the body fills. */
  readonly bytesField?: string;
}

export interface ChannelMessage {
  readonly header: ChannelHeader;
  readonly body?: Uint8Array;
}

function badFrame(message: string): EdgeShiftError {
  return new EdgeShiftError('ERR_FNHOST_BAD_REQUEST', `control channel: ${message}`);
}

/**
 * The frame as its head (lengths and header) and the body as it is: a chunk is written to the socket
 * without being copied into a frame first, which halves what a transfer allocates (and what the
 * garbage collector then pauses the request path for).
 */
export function encodeFrame(message: ChannelMessage): Uint8Array[] {
  const header = Buffer.from(JSON.stringify(message.header), 'utf8');
  const bodyBytes = message.body?.byteLength ?? 0;
  const head = Buffer.allocUnsafe(2 * LENGTH_BYTES + header.byteLength);
  head.writeUInt32BE(head.byteLength - LENGTH_BYTES + bodyBytes, 0);
  head.writeUInt32BE(header.byteLength, LENGTH_BYTES);
  header.copy(head, 2 * LENGTH_BYTES);
  return message.body === undefined || bodyBytes === 0 ? [head] : [head, message.body];
}

/** Writes one frame (encodeFrame) to a stream socket. */
export function writeFrame(socket: Writable, message: ChannelMessage): void {
  socket.cork();
  for (const part of encodeFrame(message)) socket.write(part);
  socket.uncork();
}

/** Moves the (single) Uint8Array field of `value` out into the body, so it travels raw. */
export function splitBytes(value: unknown): { json: unknown; bytesField?: string; body?: Uint8Array } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { json: value };
  const entry = Object.entries(value).find(([, field]) => field instanceof Uint8Array);
  if (entry === undefined) return { json: value };
  const [bytesField, body] = entry as [string, Uint8Array];
  const { [bytesField]: _bytes, ...json } = value as Record<string, unknown>;
  return { json, bytesField, body };
}

/** The inverse of splitBytes: the body back into its field. */
export function joinBytes(
  json: unknown,
  bytesField: string | undefined,
  body: Uint8Array | undefined,
): unknown {
  if (bytesField === undefined) return json;
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw badFrame(`bytesField '${bytesField}' on a message that is not an object`);
  return { ...json, [bytesField]: body ?? new Uint8Array(0) };
}

function parseHeader(text: string): ChannelHeader {
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch {
    throw badFrame('the header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw badFrame('the header is not an object');
  const { id, bytesField } = header as Record<string, unknown>;
  if (!Number.isSafeInteger(id)) throw badFrame('the header has no integer id');
  if (bytesField !== undefined && typeof bytesField !== 'string')
    throw badFrame('bytesField is not a string');
  return header as ChannelHeader;
}

/** Splits a byte stream into messages; throws (and the connection must close) on a malformed frame. */
export class FrameReader {
  readonly #parts: Buffer[] = [];
  #buffered = 0;

  push(data: Buffer): ChannelMessage[] {
    this.#parts.push(data);
    this.#buffered += data.byteLength;
    const messages: ChannelMessage[] = [];
    for (;;) {
      const message = this.#next();
      if (message === undefined) return messages;
      messages.push(message);
    }
  }

  #next(): ChannelMessage | undefined {
    if (this.#buffered < LENGTH_BYTES) return undefined;
    const head = this.#peek(LENGTH_BYTES);
    const length = head.readUInt32BE(0);
    if (length < LENGTH_BYTES || length > MAX_FRAME_BYTES) throw badFrame(`frame of ${length} bytes`);
    if (this.#buffered < LENGTH_BYTES + length) return undefined;
    const frame = this.#take(LENGTH_BYTES + length);
    const headerLength = frame.readUInt32BE(LENGTH_BYTES);
    const bodyStart = 2 * LENGTH_BYTES + headerLength;
    if (bodyStart > frame.byteLength)
      throw badFrame(`header of ${headerLength} bytes in a ${length}-byte frame`);
    const header = parseHeader(frame.toString('utf8', 2 * LENGTH_BYTES, bodyStart));
    if (header.bytesField === undefined) return { header };
    return { header, body: frame.subarray(bodyStart) };
  }

  #peek(bytes: number): Buffer {
    const first = this.#parts[0] as Buffer;
    return first.byteLength >= bytes ? first : Buffer.concat(this.#parts).subarray(0, bytes);
  }

  #take(bytes: number): Buffer {
    const all = this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts);
    this.#parts.length = 0;
    const rest = all.subarray(bytes);
    if (rest.byteLength > 0) this.#parts.push(rest);
    this.#buffered = rest.byteLength;
    return all.subarray(0, bytes);
  }
}
