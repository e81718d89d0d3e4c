// Eventstream RPC framing for the local nucleus: splits a byte stream into frames on the 4-byte total-length
// prefix, decodes and encodes them with @smithy/eventstream-codec, and names the RPC message types and flags.
// Used by ipc-connection.ts only. Invariant: a frame is handed on only after both CRCs checked out; anything
// malformed or larger than maxFrameBytes raises ERR_NUCLEUS_FRAME_INVALID / ERR_NUCLEUS_FRAME_TOO_LARGE.
import { EventStreamCodec, type MessageHeaders, type MessageHeaderValue } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';

import { EdgeShiftError } from '../../components/common/errors.ts';

/** `:message-type` values of eventstream RPC (aws-c-event-stream, aws_event_stream_rpc_message_type). */
export const MessageType = {
  ApplicationMessage: 0,
  ApplicationError: 1,
  Ping: 2,
  PingResponse: 3,
  Connect: 4,
  ConnectAck: 5,
  ProtocolError: 6,
  InternalError: 7,
} as const;

/** `:message-flags` bits. */
export const MessageFlags = { ConnectionAccepted: 1, TerminateStream: 2 } as const;

/** aws-c-event-stream refuses messages above 16 MiB; the nucleus inherits that limit. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Prelude (total length, headers length, prelude CRC) plus the trailing message CRC. */
const MINIMUM_FRAME_BYTES = 16;

export interface RpcFrame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  /** Headers other than the three `:message-*` / `:stream-id` ones. */
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: Uint8Array;
}

const codec = new EventStreamCodec(toUtf8, fromUtf8);

function integerHeader(headers: MessageHeaders, name: string): number {
  const header = headers[name];
  if (header === undefined) return 0;
  if (header.type !== 'integer' && header.type !== 'short' && header.type !== 'byte') {
    throw new EdgeShiftError(
      'ERR_NUCLEUS_FRAME_INVALID',
      `header ${name} must be an integer, got ${header.type}`,
    );
  }
  return header.value;
}

function headerAsString(value: MessageHeaderValue): string | undefined {
  if (value.type === 'string' || value.type === 'uuid') return value.value;
  return undefined;
}

/** Decodes one complete frame; CRC or structure errors become ERR_NUCLEUS_FRAME_INVALID. */
export function decodeFrame(bytes: Uint8Array): RpcFrame {
  let message;
  try {
    message = codec.decode(bytes);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new EdgeShiftError('ERR_NUCLEUS_FRAME_INVALID', `malformed eventstream frame: ${reason}`, {
      cause,
    });
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (name === ':message-type' || name === ':message-flags' || name === ':stream-id') continue;
    const text = headerAsString(value);
    if (text !== undefined) headers[name] = text;
  }
  return {
    type: integerHeader(message.headers, ':message-type'),
    flags: integerHeader(message.headers, ':message-flags'),
    streamId: integerHeader(message.headers, ':stream-id'),
    headers,
    payload: message.body,
  };
}

export function encodeFrame(frame: RpcFrame): Uint8Array {
  const headers: MessageHeaders = {
    ':message-type': { type: 'integer', value: frame.type },
    ':message-flags': { type: 'integer', value: frame.flags },
    ':stream-id': { type: 'integer', value: frame.streamId },
  };
  for (const [name, value] of Object.entries(frame.headers)) headers[name] = { type: 'string', value };
  return codec.encode({ headers, body: frame.payload });
}

/**
 * Accumulates socket chunks and yields whole frames. A length prefix above the limit (or below the smallest
 * possible frame) is refused at once, before buffering the body, so a hostile prefix cannot make us allocate.
 */
export class FrameSplitter {
  private buffered: Buffer = Buffer.alloc(0);

  constructor(private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes of an incomplete frame still waiting for the rest. */
  get pendingBytes(): number {
    return this.buffered.length;
  }

  push(chunk: Buffer): Uint8Array[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: Uint8Array[] = [];
    while (this.buffered.length >= 4) {
      const totalBytes = this.buffered.readUInt32BE(0);
      if (totalBytes > this.maxFrameBytes) {
        throw new EdgeShiftError(
          'ERR_NUCLEUS_FRAME_TOO_LARGE',
          `eventstream frame of ${totalBytes} bytes exceeds the ${this.maxFrameBytes}-byte limit`,
        );
      }
      if (totalBytes < MINIMUM_FRAME_BYTES) {
        throw new EdgeShiftError(
          'ERR_NUCLEUS_FRAME_INVALID',
          `eventstream frame length ${totalBytes} is below the ${MINIMUM_FRAME_BYTES}-byte minimum`,
        );
      }
      if (this.buffered.length < totalBytes) break;
      frames.push(this.buffered.subarray(0, totalBytes));
      this.buffered = this.buffered.subarray(totalBytes);
    }
    return frames;
  }
}
