// The agent's gRPC server: serves the PeerAgent service over mutual TLS, checks that the caller's
// certificate names a configured peer, parses every request once (peer-proto.ts) and hands typed
// values to the handlers (the target side in migration/target-migrations.ts, and the agent for
// status and pull requests). Errors leave as gRPC status codes carrying the EdgeShift code.
import * as grpc from '@grpc/grpc-js';

import { EdgeShiftError } from '../components/common/errors.ts';
import { createLogger } from '../components/common/logger.ts';
import {
  MAX_PEER_MESSAGE_BYTES,
  parsePeerMessage,
  peerServiceDefinition,
  toServiceError,
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
import { createPeerServerCredentials, type TlsMaterial } from './peer-tls.ts';

const log = createLogger('agent:peer-server');

/** Who called: the node id in the client certificate's common name. */
export interface PeerCaller {
  readonly nodeId: string;
}

export interface PeerHandlers {
  prepare(request: PrepareRequestMessage, caller: PeerCaller): Promise<PrepareResponseMessage>;
  transferState(
    chunks: AsyncIterable<StateChunkMessage>,
    caller: PeerCaller,
  ): Promise<TransferSummaryMessage>;
  applyDelta(request: DeltaRequestMessage, caller: PeerCaller): Promise<DeltaResponseMessage>;
  takeOver(request: TakeOverRequestMessage, caller: PeerCaller): Promise<TakeOverResponseMessage>;
  commit(request: MigrationRefMessage, caller: PeerCaller): Promise<CommitResponseMessage>;
  abort(request: AbortRequestMessage, caller: PeerCaller): Promise<AbortResponseMessage>;
  getStatus(caller: PeerCaller): Promise<StatusResponseMessage>;
  requestMigration(
    request: MigrationOrderMessage,
    caller: PeerCaller,
  ): Promise<MigrationOrderResponseMessage>;
}

export interface PeerServerOptions {
  /** host:port to listen on; port 0 picks a free one. */
  readonly listenAddress: string;
  readonly tls: TlsMaterial;
  readonly handlers: PeerHandlers;
  /** Node ids allowed to call (certificate common names); every call from another is refused. */
  readonly allowedPeerNodeIds: readonly string[];
  /** How long close() lets running calls and open connections finish before it cuts them. */
  readonly closeGraceMs: number;
}

export interface PeerServer {
  readonly port: number;
  /** Stops accepting calls and lets running calls finish, for at most `closeGraceMs`. */
  close(): Promise<void>;
  /** Stops now, cancelling running calls (also how tests make a node die). */
  destroy(): void;
}

type AnyServerCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown>;

function identifyCaller(call: AnyServerCall, allowed: ReadonlySet<string>): PeerCaller {
  const commonName: unknown = call.getAuthContext()?.sslPeerCertificate?.subject?.CN;
  const nodeId: unknown = Array.isArray(commonName) ? (commonName as unknown[])[0] : commonName;
  if (typeof nodeId !== 'string' || !allowed.has(nodeId)) {
    throw new EdgeShiftError(
      'ERR_PEER_UNKNOWN',
      `caller certificate names '${String(nodeId)}', not a configured peer`,
      {
        context: { caller: String(nodeId) },
      },
    );
  }
  return { nodeId };
}

/** Runs a handler and answers the call with its result, or with its error as a gRPC status. */
function answer<Response>(
  method: string,
  callback: grpc.sendUnaryData<Response>,
  run: () => Promise<Response>,
): void {
  run().then(
    (response) => callback(null, response),
    (err: unknown) => {
      log.warn('call refused', { method, err });
      callback(toServiceError(err));
    },
  );
}

function unaryHandler<Request, Response>(
  method: string,
  parse: (value: unknown) => Request,
  allowed: ReadonlySet<string>,
  handle: (request: Request, caller: PeerCaller) => Promise<Response>,
): grpc.handleUnaryCall<unknown, Response> {
  return (call, callback) =>
    answer(method, callback, async () => handle(parse(call.request), identifyCaller(call, allowed)));
}

/**
 * A client stream of exactly one message (TakeOver): acts on the first message as a unary call acts
 * on its request. The stream keeps flowing to its end, so nothing is left unread; a call that ends
 * or is cancelled before a message runs nothing.
 */
function firstMessageHandler<Request, Response>(
  method: string,
  parse: (value: unknown) => Request,
  allowed: ReadonlySet<string>,
  handle: (request: Request, caller: PeerCaller) => Promise<Response>,
): grpc.handleClientStreamingCall<unknown, Response> {
  return (call, callback) => {
    let isStarted = false;
    call.on('data', (raw: unknown) => {
      if (isStarted) return; // one message is the contract: later ones change nothing
      isStarted = true;
      answer(method, callback, async () => handle(parse(raw), identifyCaller(call, allowed)));
    });
    call.on('end', () => {
      if (isStarted) return;
      answer(method, callback, () =>
        Promise.reject(new EdgeShiftError('ERR_PEER_BAD_MESSAGE', `${method} ended without a request`)),
      );
    });
    call.on('error', () => undefined); // a cancelled call: nothing to answer
  };
}

async function* parsedChunks(
  call: grpc.ServerReadableStream<unknown, unknown>,
): AsyncGenerator<StateChunkMessage> {
  // Async iteration pulls one message at a time, so HTTP/2 flow control holds the sender back
  // while a chunk is being imported: memory stays bounded whatever the state size.
  for await (const raw of call as AsyncIterable<unknown>) yield parsePeerMessage.StateChunk(raw);
}

function buildImplementation(
  handlers: PeerHandlers,
  allowed: ReadonlySet<string>,
): grpc.UntypedServiceImplementation {
  const transferState: grpc.handleClientStreamingCall<unknown, TransferSummaryMessage> = (call, callback) =>
    answer('TransferState', callback, async () =>
      handlers.transferState(parsedChunks(call), identifyCaller(call, allowed)),
    );
  return {
    Prepare: unaryHandler('Prepare', parsePeerMessage.PrepareRequest, allowed, (r, c) =>
      handlers.prepare(r, c),
    ),
    TransferState: transferState,
    ApplyDelta: unaryHandler('ApplyDelta', parsePeerMessage.DeltaRequest, allowed, (r, c) =>
      handlers.applyDelta(r, c),
    ),
    TakeOver: firstMessageHandler('TakeOver', parsePeerMessage.TakeOverRequest, allowed, (r, c) =>
      handlers.takeOver(r, c),
    ),
    CommitMigration: unaryHandler('CommitMigration', parsePeerMessage.MigrationRef, allowed, (r, c) =>
      handlers.commit(r, c),
    ),
    AbortMigration: unaryHandler('AbortMigration', parsePeerMessage.AbortRequest, allowed, (r, c) =>
      handlers.abort(r, c),
    ),
    GetStatus: unaryHandler('GetStatus', parsePeerMessage.StatusRequest, allowed, (_r, c) =>
      handlers.getStatus(c),
    ),
    RequestMigration: unaryHandler('RequestMigration', parsePeerMessage.MigrationOrder, allowed, (r, c) =>
      handlers.requestMigration(r, c),
    ),
  };
}

export async function startPeerServer(options: PeerServerOptions): Promise<PeerServer> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_PEER_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_PEER_MESSAGE_BYTES,
  });
  server.addService(
    peerServiceDefinition,
    buildImplementation(options.handlers, new Set(options.allowedPeerNodeIds)),
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.listenAddress, createPeerServerCredentials(options.tls), (err, boundPort) =>
      err ? reject(err) : resolve(boundPort),
    );
  });
  log.info('listening', { listenAddress: options.listenAddress, port });
  let closing: Promise<void> | undefined;
  return {
    port,
    close: () => {
      closing ??= closeWithin(server, options.closeGraceMs);
      return closing;
    },
    destroy: () => server.forceShutdown(),
  };
}

/**
 * A graceful stop with a deadline. grpc-js's tryShutdown waits for every connection to end, and one
 * still in its TLS handshake is not yet a session it can close: it ends only when the peer hangs up.
 * Two agents closing one after the other would wait on each other, so the rest is cut at the deadline.
 */
function closeWithin(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const deadline = setTimeout(() => {
      log.warn('connections still open at the close deadline; cutting them', { graceMs });
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(deadline);
      resolve();
    });
  });
}
