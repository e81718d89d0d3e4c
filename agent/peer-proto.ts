// Loads agent/proto/edgeshift_peer.proto with @grpc/proto-loader and gives each message a TypeScript
// type and a parser. Every message from the network passes its parser once (peer-server.ts on
// requests, peer-client.ts on responses); nothing untyped goes further. Also maps EdgeShift error
// codes to gRPC status codes and back, carrying the code in trailing metadata.
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import { EdgeShiftError, ERROR_CATALOG, type ErrorCode } from '../components/common/errors.ts';
import { HAND_OFF_KEY } from '../components/function-host/hand-off-seal.ts';

export const PEER_PROTO_PATH = fileURLToPath(new URL('./proto/edgeshift_peer.proto', import.meta.url));
export const PEER_SERVICE_NAME = 'edgeshift.peer.v1.PeerAgent';
/** Largest gRPC message an agent accepts: a state chunk plus its framing. */
export const MAX_PEER_MESSAGE_BYTES = 16 * 1024 * 1024;
const ERROR_CODE_METADATA_KEY = 'edgeshift-error-code';

const packageDefinition = protoLoader.loadSync(PEER_PROTO_PATH, {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});

function loadServiceDefinition(): grpc.ServiceDefinition {
  const definition = packageDefinition[PEER_SERVICE_NAME];
  if (definition === undefined || !('Prepare' in definition)) {
    throw new Error(`${PEER_PROTO_PATH} defines no service ${PEER_SERVICE_NAME}`);
  }
  return definition;
}

export const peerServiceDefinition: grpc.ServiceDefinition = loadServiceDefinition();

/**
 * protobufjs generates a message type's codec the first time it encodes or decodes one, a few
 * milliseconds each. Left to the first migration, the TakeOver codecs would be generated on both
 * nodes inside the freeze window; an agent builds them all when it starts. Returns the methods done.
 */
export function buildPeerCodecs(): string[] {
  return Object.entries(peerServiceDefinition).map(([name, method]) => {
    method.requestDeserialize(method.requestSerialize({}));
    method.responseDeserialize(method.responseSerialize({}));
    return name;
  });
}

// ---- messages (field names as in the .proto, keepCase) ----

export interface UdpEndpointMessage {
  readonly address: string;
  readonly port: number;
}
export interface MigrationRefMessage {
  readonly migration_id: string;
  readonly service: string;
}
export interface PrepareRequestMessage {
  readonly migration_id: string;
  readonly service: string;
  readonly service_id: number;
  readonly epoch: number;
  readonly source_node_id: string;
  readonly is_stateful: boolean;
  readonly snapshot_bytes: number;
  readonly chunk_count: number;
  readonly cutover: string;
  readonly direct_hand_off?: DirectHandOffMessage;
}
export interface DirectHandOffMessage {
  readonly key: string;
  readonly cutover_notice_token: string;
  readonly source_request_endpoint: UdpEndpointMessage;
}
export interface PrepareResponseMessage {
  readonly target_node_id: string;
  readonly request_endpoint: UdpEndpointMessage;
}
export interface StateChunkMessage {
  readonly migration_id: string;
  readonly index: number;
  readonly data: Buffer;
  readonly chunk_sha256: Buffer;
  readonly is_last: boolean;
  readonly total_sha256: Buffer;
}
export interface TransferSummaryMessage {
  readonly chunks_received: number;
  readonly bytes_received: number;
}
export interface DeltaRequestMessage {
  readonly migration_id: string;
  readonly round: number;
  readonly delta: Buffer;
  readonly delta_sha256: Buffer;
}
export interface DeltaResponseMessage {
  readonly round: number;
}
export interface TakeOverRequestMessage {
  readonly migration_id: string;
  readonly epoch: number;
  readonly final_delta: Buffer;
  readonly final_delta_sha256: Buffer;
  readonly expected_state_checksum: string;
  readonly source_request_endpoint: UdpEndpointMessage;
  readonly cutover_notice_token: string;
}
export interface TakeOverResponseMessage {
  readonly state_checksum: string;
  readonly epoch: number;
  readonly cutover_ms: number;
}
export type CommitResponseMessage = Record<string, never>;
export interface AbortRequestMessage {
  readonly migration_id: string;
  readonly reason: string;
}
export interface AbortResponseMessage {
  readonly outcome: 'dropped' | 'kept' | 'unknown';
}
export type StatusRequestMessage = Record<string, never>;
export interface MigrationStatusMessage {
  readonly migration_id: string;
  readonly service: string;
  readonly role: string;
  readonly state: string;
  readonly epoch: number;
  readonly peer_node_id: string;
}
export interface StatusResponseMessage {
  readonly node_id: string;
  readonly migrations: readonly MigrationStatusMessage[];
}
export interface MigrationOrderMessage {
  readonly service: string;
  readonly requester_node_id: string;
  readonly reason: string;
}
export interface MigrationOrderResponseMessage {
  readonly accepted: boolean;
  readonly migration_id: string;
  readonly detail: string;
}

// ---- parsing at the boundary ----

type Fields = Record<string, unknown>;

function badMessage(message: string, field: string): EdgeShiftError {
  return new EdgeShiftError('ERR_PEER_BAD_MESSAGE', `${message}.${field} is missing or malformed`, {
    context: { message, field },
  });
}

function asFields(value: unknown, message: string): Fields {
  if (typeof value !== 'object' || value === null) throw badMessage(message, '(root)');
  return value as Fields;
}

function text(fields: Fields, message: string, field: string, options: { nonEmpty?: boolean } = {}): string {
  const value = fields[field];
  if (typeof value !== 'string' || (options.nonEmpty === true && value.length === 0))
    throw badMessage(message, field);
  return value;
}

function uint(fields: Fields, message: string, field: string): number {
  const value = fields[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw badMessage(message, field);
  return value;
}

function flag(fields: Fields, message: string, field: string): boolean {
  const value = fields[field];
  if (typeof value !== 'boolean') throw badMessage(message, field);
  return value;
}

function bytes(fields: Fields, message: string, field: string): Buffer {
  const value = fields[field];
  if (!Buffer.isBuffer(value)) throw badMessage(message, field);
  return value;
}

function endpoint(fields: Fields, message: string, field: string): UdpEndpointMessage {
  const inner = fields[field];
  if (typeof inner !== 'object' || inner === null) throw badMessage(message, field);
  const parsed = inner as Fields;
  const port = uint(parsed, message, 'port');
  if (port < 1 || port > 65_535) throw badMessage(message, `${field}.port`);
  return { address: text(parsed, message, 'address', { nonEmpty: true }), port };
}

function directHandOff(fields: Fields, message: string): DirectHandOffMessage {
  const inner = asFields(fields.direct_hand_off, message);
  const key = text(inner, message, 'key');
  if (!HAND_OFF_KEY.test(key)) throw badMessage(message, 'direct_hand_off.key');
  return {
    key,
    cutover_notice_token: text(inner, message, 'cutover_notice_token', { nonEmpty: true }),
    source_request_endpoint: endpoint(inner, message, 'source_request_endpoint'),
  };
}

function sha256Field(
  fields: Fields,
  message: string,
  field: string,
  options: { optional?: boolean } = {},
): Buffer {
  const value = bytes(fields, message, field);
  if (value.length === 32 || (options.optional === true && value.length === 0)) return value;
  throw badMessage(message, field);
}

export const parsePeerMessage = {
  MigrationRef: (value: unknown): MigrationRefMessage => {
    const f = asFields(value, 'MigrationRef');
    return {
      migration_id: text(f, 'MigrationRef', 'migration_id', { nonEmpty: true }),
      service: text(f, 'MigrationRef', 'service'),
    };
  },
  PrepareRequest: (value: unknown): PrepareRequestMessage => {
    const m = 'PrepareRequest';
    const f = asFields(value, m);
    return {
      migration_id: text(f, m, 'migration_id', { nonEmpty: true }),
      service: text(f, m, 'service', { nonEmpty: true }),
      service_id: uint(f, m, 'service_id'),
      epoch: uint(f, m, 'epoch'),
      source_node_id: text(f, m, 'source_node_id', { nonEmpty: true }),
      is_stateful: flag(f, m, 'is_stateful'),
      snapshot_bytes: uint(f, m, 'snapshot_bytes'),
      chunk_count: uint(f, m, 'chunk_count'),
      cutover: text(f, m, 'cutover', { nonEmpty: true }),
      ...(f.direct_hand_off === null || f.direct_hand_off === undefined
        ? {}
        : { direct_hand_off: directHandOff(f, m) }),
    };
  },
  PrepareResponse: (value: unknown): PrepareResponseMessage => {
    const m = 'PrepareResponse';
    const f = asFields(value, m);
    return {
      target_node_id: text(f, m, 'target_node_id', { nonEmpty: true }),
      request_endpoint: endpoint(f, m, 'request_endpoint'),
    };
  },
  StateChunk: (value: unknown): StateChunkMessage => {
    const m = 'StateChunk';
    const f = asFields(value, m);
    return {
      migration_id: text(f, m, 'migration_id', { nonEmpty: true }),
      index: uint(f, m, 'index'),
      data: bytes(f, m, 'data'),
      chunk_sha256: sha256Field(f, m, 'chunk_sha256'),
      is_last: flag(f, m, 'is_last'),
      total_sha256: sha256Field(f, m, 'total_sha256', { optional: true }),
    };
  },
  TransferSummary: (value: unknown): TransferSummaryMessage => {
    const f = asFields(value, 'TransferSummary');
    return {
      chunks_received: uint(f, 'TransferSummary', 'chunks_received'),
      bytes_received: uint(f, 'TransferSummary', 'bytes_received'),
    };
  },
  DeltaRequest: (value: unknown): DeltaRequestMessage => {
    const m = 'DeltaRequest';
    const f = asFields(value, m);
    return {
      migration_id: text(f, m, 'migration_id', { nonEmpty: true }),
      round: uint(f, m, 'round'),
      delta: bytes(f, m, 'delta'),
      delta_sha256: sha256Field(f, m, 'delta_sha256'),
    };
  },
  DeltaResponse: (value: unknown): DeltaResponseMessage => {
    return { round: uint(asFields(value, 'DeltaResponse'), 'DeltaResponse', 'round') };
  },
  TakeOverRequest: (value: unknown): TakeOverRequestMessage => {
    const m = 'TakeOverRequest';
    const f = asFields(value, m);
    return {
      migration_id: text(f, m, 'migration_id', { nonEmpty: true }),
      epoch: uint(f, m, 'epoch'),
      final_delta: bytes(f, m, 'final_delta'),
      final_delta_sha256: sha256Field(f, m, 'final_delta_sha256'),
      expected_state_checksum: text(f, m, 'expected_state_checksum'),
      source_request_endpoint: endpoint(f, m, 'source_request_endpoint'),
      cutover_notice_token: text(f, m, 'cutover_notice_token'),
    };
  },
  TakeOverResponse: (value: unknown): TakeOverResponseMessage => {
    const m = 'TakeOverResponse';
    const f = asFields(value, m);
    return {
      state_checksum: text(f, m, 'state_checksum'),
      epoch: uint(f, m, 'epoch'),
      cutover_ms: uint(f, m, 'cutover_ms'),
    };
  },
  CommitResponse: (value: unknown): CommitResponseMessage => {
    asFields(value, 'CommitResponse');
    return {};
  },
  AbortRequest: (value: unknown): AbortRequestMessage => {
    const f = asFields(value, 'AbortRequest');
    return {
      migration_id: text(f, 'AbortRequest', 'migration_id', { nonEmpty: true }),
      reason: text(f, 'AbortRequest', 'reason'),
    };
  },
  AbortResponse: (value: unknown): AbortResponseMessage => {
    const outcome = text(asFields(value, 'AbortResponse'), 'AbortResponse', 'outcome');
    return { outcome: outcome === 'dropped' || outcome === 'kept' ? outcome : 'unknown' };
  },
  StatusRequest: (value: unknown): StatusRequestMessage => {
    asFields(value, 'StatusRequest');
    return {};
  },
  StatusResponse: (value: unknown): StatusResponseMessage => {
    const m = 'StatusResponse';
    const f = asFields(value, m);
    const list = f.migrations;
    if (!Array.isArray(list)) throw badMessage(m, 'migrations');
    return {
      node_id: text(f, m, 'node_id'),
      migrations: list.map((item: unknown) => {
        const s = asFields(item, 'MigrationStatus');
        const n = 'MigrationStatus';
        return {
          migration_id: text(s, n, 'migration_id'),
          service: text(s, n, 'service'),
          role: text(s, n, 'role'),
          state: text(s, n, 'state'),
          epoch: uint(s, n, 'epoch'),
          peer_node_id: text(s, n, 'peer_node_id'),
        };
      }),
    };
  },
  MigrationOrder: (value: unknown): MigrationOrderMessage => {
    const m = 'MigrationOrder';
    const f = asFields(value, m);
    return {
      service: text(f, m, 'service', { nonEmpty: true }),
      requester_node_id: text(f, m, 'requester_node_id', { nonEmpty: true }),
      reason: text(f, m, 'reason'),
    };
  },
  MigrationOrderResponse: (value: unknown): MigrationOrderResponseMessage => {
    const m = 'MigrationOrderResponse';
    const f = asFields(value, m);
    return {
      accepted: flag(f, m, 'accepted'),
      migration_id: text(f, m, 'migration_id'),
      detail: text(f, m, 'detail'),
    };
  },
};

// ---- errors across the wire ----

const STATUS_BY_CODE: Partial<Record<ErrorCode, grpc.status>> = {
  ERR_MIGRATION_STALE_EPOCH: grpc.status.FAILED_PRECONDITION,
  ERR_MIGRATION_ILLEGAL_TRANSITION: grpc.status.FAILED_PRECONDITION,
  ERR_MIGRATION_NOT_OWNER: grpc.status.FAILED_PRECONDITION,
  ERR_MIGRATION_BUSY: grpc.status.RESOURCE_EXHAUSTED,
  ERR_MIGRATION_UNKNOWN: grpc.status.NOT_FOUND,
  ERR_MIGRATION_UNKNOWN_SERVICE: grpc.status.NOT_FOUND,
  ERR_MIGRATION_CHECKSUM_MISMATCH: grpc.status.DATA_LOSS,
  ERR_MIGRATION_TIMEOUT: grpc.status.DEADLINE_EXCEEDED,
  ERR_PEER_BAD_MESSAGE: grpc.status.INVALID_ARGUMENT,
  ERR_PEER_UNKNOWN: grpc.status.PERMISSION_DENIED,
};

function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_CATALOG, value);
}

/** The gRPC error a handler returns for `err`: the EdgeShift code travels in trailing metadata. */
export function toServiceError(err: unknown): Partial<grpc.ServiceError> {
  const metadata = new grpc.Metadata();
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && isErrorCode(code)) {
    metadata.set(ERROR_CODE_METADATA_KEY, code);
    return { code: STATUS_BY_CODE[code] ?? grpc.status.INTERNAL, details: message, metadata };
  }
  return { code: grpc.status.INTERNAL, details: message, metadata };
}

const UNREACHABLE_STATUSES: ReadonlySet<grpc.status> = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.CANCELLED,
]);

/** The EdgeShiftError a client raises for a failed call: the peer's own code when it sent one. */
export function fromServiceError(err: grpc.ServiceError, method: string, peerNodeId: string): EdgeShiftError {
  const [sent] = err.metadata?.get(ERROR_CODE_METADATA_KEY) ?? [];
  const context = { method, peerNodeId, grpcStatus: err.code };
  if (typeof sent === 'string' && isErrorCode(sent)) {
    return new EdgeShiftError(sent, `peer ${peerNodeId}: ${err.details}`, { context, cause: err });
  }
  const code = UNREACHABLE_STATUSES.has(err.code) ? 'ERR_PEER_UNREACHABLE' : 'ERR_PEER_REFUSED';
  return new EdgeShiftError(code, `${method} to peer ${peerNodeId} failed: ${err.details || err.message}`, {
    context,
    cause: err,
  });
}
