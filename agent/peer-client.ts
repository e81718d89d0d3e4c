// The agent's gRPC client to one peer: a promise per unary call, a state stream that honours
// backpressure (after write() returns false nothing more is written until 'drain'), and the TakeOver
// call, opened ahead of its one message. Every response is parsed by peer-proto.ts before it is
// returned; failures become EdgeShiftErrors with the peer's code. Called by the source side of a
// migration (migration/source-migration.ts) and by the agent itself.
import * as grpc from '@grpc/grpc-js';

import {
  fromServiceError,
  MAX_PEER_MESSAGE_BYTES,
  parsePeerMessage,
  PEER_SERVICE_NAME,
  peerServiceDefinition,
  type AbortRequestMessage,
  type AbortResponseMessage,
  type CommitResponseMessage,
  type DeltaRequestMessage,
  type DeltaResponseMessage,
  type MigrationOrderMessage,
  type MigrationOrderResponseMessage,
  type MigrationRefMessage,
  type PrepareRequestMessage,
  type PrepareResponseMessage,
  type StateChunkMessage,
  type StatusResponseMessage,
  type TakeOverRequestMessage,
  type TakeOverResponseMessage,
  type TransferSummaryMessage,
} from './peer-proto.ts';
import { createPeerChannelCredentials, peerChannelOptions, type TlsMaterial } from './peer-tls.ts';

export interface PeerClientOptions {
  readonly peerNodeId: string;
  /** host:port of the peer agent's gRPC server. */
  readonly grpcAddress: string;
  readonly tls: TlsMaterial;
  /** Extra channel options (tests shorten reconnect backoff). */
  readonly channelOptions?: grpc.ChannelOptions;
}

/** A client-streaming call carrying the snapshot; write() waits for 'drain' when the stream is full. */
export interface StateStream {
  write(chunk: StateChunkMessage): Promise<void>;
  /** Half-closes the stream and waits for the target's summary. */
  finish(): Promise<TransferSummaryMessage>;
  cancel(): void;
}

/** A TakeOver call opened ahead of its one message. */
export interface TakeOverCall {
  /** Sends the request, half-closes, and waits for the target's answer. */
  send(request: TakeOverRequestMessage): Promise<TakeOverResponseMessage>;
  /** Ends the call without a request (the freeze failed): the target does nothing. */
  cancel(): void;
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

function methodOf(name: string): grpc.MethodDefinition<object, unknown> {
  const method = peerServiceDefinition[name];
  if (method === undefined) throw new Error(`${PEER_SERVICE_NAME} has no method ${name}`);
  return method as grpc.MethodDefinition<object, unknown>;
}

export class PeerClient {
  readonly peerNodeId: string;
  private readonly options: PeerClientOptions;
  private client: grpc.Client;

  constructor(options: PeerClientOptions) {
    this.peerNodeId = options.peerNodeId;
    this.options = options;
    this.client = this.newClient();
  }

  prepare(request: PrepareRequestMessage, timeoutMs: number): Promise<PrepareResponseMessage> {
    return this.unary('Prepare', request, parsePeerMessage.PrepareResponse, timeoutMs);
  }

  applyDelta(request: DeltaRequestMessage, timeoutMs: number): Promise<DeltaResponseMessage> {
    return this.unary('ApplyDelta', request, parsePeerMessage.DeltaResponse, timeoutMs);
  }

  commit(request: MigrationRefMessage, timeoutMs: number): Promise<CommitResponseMessage> {
    return this.unary('CommitMigration', request, parsePeerMessage.CommitResponse, timeoutMs);
  }

  abort(request: AbortRequestMessage, timeoutMs: number): Promise<AbortResponseMessage> {
    return this.unary('AbortMigration', request, parsePeerMessage.AbortResponse, timeoutMs);
  }

  getStatus(timeoutMs: number): Promise<StatusResponseMessage> {
    return this.unary('GetStatus', {}, parsePeerMessage.StatusResponse, timeoutMs);
  }

  requestMigration(
    request: MigrationOrderMessage,
    timeoutMs: number,
  ): Promise<MigrationOrderResponseMessage> {
    return this.unary('RequestMigration', request, parsePeerMessage.MigrationOrderResponse, timeoutMs);
  }

  openStateStream(timeoutMs: number): StateStream {
    const { call, result: summary } = this.clientStream(
      'TransferState',
      parsePeerMessage.TransferSummary,
      timeoutMs,
    );
    const waitForDrain = (): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          resolve();
        };
        call.once('drain', onDrain);
        summary.then(
          () => call.off('drain', onDrain),
          (err: unknown) => {
            call.off('drain', onDrain);
            reject(toError(err));
          },
        );
      });
    let isFailed = false;
    summary.catch(() => {
      isFailed = true;
    });
    return {
      write: async (chunk) => {
        if (isFailed) return summary.then(() => undefined);
        if (!call.write(chunk)) await waitForDrain();
      },
      finish: () => {
        call.end();
        return summary;
      },
      cancel: () => call.cancel(),
    };
  }

  /**
   * Opens the TakeOver call ahead of its one message (see the .proto): the call's setup, about a
   * millisecond of CPU on each side, is paid before the freeze instead of inside it.
   */
  openTakeOver(timeoutMs: number): TakeOverCall {
    const { call, result } = this.clientStream('TakeOver', parsePeerMessage.TakeOverResponse, timeoutMs);
    return {
      send: (request) => {
        call.write(request);
        call.end();
        return result;
      },
      cancel: () => call.cancel(),
    };
  }

  /** A client-streaming call and its one parsed answer; the deadline counts from now. */
  private clientStream<Response>(
    name: string,
    parse: (value: unknown) => Response,
    timeoutMs: number,
  ): { call: grpc.ClientWritableStream<object>; result: Promise<Response> } {
    const method = methodOf(name);
    let settle: { resolve: (value: Response) => void; reject: (err: Error) => void } | undefined;
    const result = new Promise<Response>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // A rejection before the answer is awaited must not be reported as unhandled; callers see it too.
    result.catch(() => undefined);
    const call = this.usableClient().makeClientStreamRequest<object, unknown>(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, value) => {
        if (err) return settle?.reject(fromServiceError(err, name, this.peerNodeId));
        try {
          settle?.resolve(parse(value));
        } catch (parseError) {
          settle?.reject(toError(parseError));
        }
      },
    );
    call.on('error', () => undefined); // reported through the callback above
    return { call, result };
  }

  /**
   * Starts the TLS handshake now rather than on the first call: a migration's first Prepare would
   * otherwise pay for it, on both nodes, while the source is serving. A peer that is down is retried
   * with the channel's backoff.
   */
  connect(): void {
    this.client.getChannel().getConnectivityState(true);
  }

  /**
   * The client for the next call. A channel in TRANSIENT_FAILURE fails calls at once until its backoff
   * ends, so a peer that came up after connect() (or after a failure) would be refused for no reason:
   * such a channel is replaced, and the call connects afresh.
   */
  private usableClient(): grpc.Client {
    if (this.client.getChannel().getConnectivityState(false) !== grpc.connectivityState.TRANSIENT_FAILURE) {
      return this.client;
    }
    this.client.close();
    this.client = this.newClient();
    return this.client;
  }

  private newClient(): grpc.Client {
    const { options } = this;
    return new grpc.Client(options.grpcAddress, createPeerChannelCredentials(options.tls), {
      ...peerChannelOptions(options.peerNodeId),
      'grpc.max_send_message_length': MAX_PEER_MESSAGE_BYTES,
      'grpc.max_receive_message_length': MAX_PEER_MESSAGE_BYTES,
      ...options.channelOptions,
    });
  }

  close(): void {
    this.client.close();
  }

  private unary<Response>(
    name: string,
    request: object,
    parse: (value: unknown) => Response,
    timeoutMs: number,
  ): Promise<Response> {
    const method = methodOf(name);
    return new Promise<Response>((resolve, reject) => {
      this.usableClient().makeUnaryRequest<object, unknown>(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, value) => {
          if (err) return reject(fromServiceError(err, name, this.peerNodeId));
          try {
            resolve(parse(value));
          } catch (parseError) {
            reject(toError(parseError));
          }
        },
      );
    });
  }
}
