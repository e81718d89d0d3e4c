// One client connection to the local nucleus: the eventstream RPC handshake (Connect with :version and
// authToken, ConnectAck), Ping, streams opened by an `operation` header, responses, events, modeled errors and
// stream termination from either side. Created by local-nucleus.ts per accepted socket; dispatches to the
// operations/ table. Invariant: a malformed or oversized frame, a refused token or a socket error closes this
// connection only, and closing it runs every stream's cleanups (subscriptions removed).
import type { Socket } from 'node:net';

import { hasErrorCode } from '../../components/common/errors.ts';
import { createLogger } from '../../components/common/logger.ts';
import {
  decodeFrame,
  encodeFrame,
  FrameSplitter,
  MessageFlags,
  MessageType,
  type RpcFrame,
} from './eventstream-framing.ts';
import type { NucleusServices, OperationHandler, OperationStream } from './operations/operation-context.ts';
import {
  CONTENT_TYPE_HEADER,
  CONTENT_TYPE_JSON,
  CONTENT_TYPE_TEXT,
  ModeledIpcError,
  OPERATION_HEADER,
  operationShapes,
  SERVICE_MODEL_TYPE_HEADER,
  type OperationShapes,
  UnmodeledIpcError,
} from './service-model.ts';

const log = createLogger('local-nucleus:connection');

/** The only eventstream RPC protocol version the nucleus accepts (Version.java). */
export const RPC_PROTOCOL_VERSION = '0.1.0';

export interface ConnectionHost {
  /** The component an authToken (SVCUID) belongs to, or undefined to refuse the connection. */
  authenticate(authToken: string): string | undefined;
  readonly services: NucleusServices;
  readonly handlers: ReadonlyMap<string, OperationHandler>;
  readonly maxFrameBytes: number;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

function jsonBytes(body: unknown): Uint8Array {
  return textEncoder.encode(JSON.stringify(body));
}

class RpcStream implements OperationStream {
  private open = true;
  private responded = false;
  private readonly queuedEvents: object[] = [];
  private readonly cleanups: (() => void)[] = [];

  constructor(
    readonly streamId: number,
    readonly componentName: string,
    readonly operationName: string,
    private readonly shapes: OperationShapes,
    private readonly connection: IpcConnection,
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  private get isStreaming(): boolean {
    return this.shapes.eventShape !== undefined;
  }

  respond(body: object): void {
    if (!this.open || this.responded) return;
    this.responded = true;
    const terminate = !this.isStreaming;
    this.connection.sendApplicationMessage(this.streamId, this.shapes.responseShape, body, terminate);
    if (terminate) {
      this.finish();
      return;
    }
    // Events produced while the response was pending go out after it, as the nucleus's afterHandleRequest does.
    for (const event of this.queuedEvents.splice(0)) this.sendEvent(event);
  }

  sendEvent(body: object): void {
    if (!this.open || this.shapes.eventShape === undefined) return;
    if (!this.responded) {
      this.queuedEvents.push(body);
      return;
    }
    this.connection.sendApplicationMessage(this.streamId, this.shapes.eventShape, body, false);
  }

  sendError(error: ModeledIpcError): void {
    if (!this.open) return;
    this.connection.sendFrame({
      type: MessageType.ApplicationError,
      flags: MessageFlags.TerminateStream,
      streamId: this.streamId,
      headers: { [CONTENT_TYPE_HEADER]: CONTENT_TYPE_JSON, [SERVICE_MODEL_TYPE_HEADER]: error.shape },
      payload: jsonBytes({ message: error.message, ...error.fields }),
    });
    this.finish();
  }

  /** An error the model does not describe: the nucleus answers a plain-text "InternalServerError". */
  sendInternalError(): void {
    if (!this.open) return;
    this.connection.sendFrame({
      type: MessageType.ApplicationError,
      flags: MessageFlags.TerminateStream,
      streamId: this.streamId,
      headers: { [CONTENT_TYPE_HEADER]: CONTENT_TYPE_TEXT },
      payload: textEncoder.encode('InternalServerError'),
    });
    this.finish();
  }

  onClose(cleanup: () => void): void {
    if (!this.open) {
      cleanup();
      return;
    }
    this.cleanups.push(cleanup);
  }

  /** Marks the stream closed and runs its cleanups once (client terminate, server terminate or disconnect). */
  finish(): void {
    if (!this.open) return;
    this.open = false;
    this.connection.forgetStream(this.streamId);
    for (const cleanup of this.cleanups.splice(0)) {
      try {
        cleanup();
      } catch (error) {
        log.warn('stream cleanup failed', { operation: this.operationName, error });
      }
    }
  }
}

export class IpcConnection {
  private readonly splitter: FrameSplitter;
  private readonly streams = new Map<number, RpcStream>();
  private lastStreamId = 0;
  private component: string | undefined;
  private closed = false;
  private readonly closeListeners: (() => void)[] = [];

  constructor(
    private readonly socket: Socket,
    private readonly host: ConnectionHost,
  ) {
    this.splitter = new FrameSplitter(host.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.close('peer ended the connection'));
    socket.on('close', () => this.close('socket closed'));
    socket.on('error', (error) => this.close(`socket error: ${error.message}`));
  }

  /** The authenticated component, once Connect was accepted. */
  get componentName(): string | undefined {
    return this.component;
  }

  get openStreamCount(): number {
    return this.streams.size;
  }

  onClosed(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  /**
   * Closes the connection: every open stream is finished (cleanups run), then the socket is ended after
   * flushing what was written (graceful) or destroyed at once.
   */
  close(reason: string, options: { graceful?: boolean } = {}): void {
    if (this.closed) return;
    this.closed = true;
    log.debug('connection closed', { component: this.component, reason });
    for (const stream of [...this.streams.values()]) stream.finish();
    if (options.graceful === true) this.socket.end();
    else this.socket.destroy();
    for (const listener of this.closeListeners.splice(0)) listener();
  }

  sendFrame(frame: RpcFrame): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(encodeFrame(frame));
  }

  sendApplicationMessage(streamId: number, shape: string, body: object, terminate: boolean): void {
    this.sendFrame({
      type: MessageType.ApplicationMessage,
      flags: terminate ? MessageFlags.TerminateStream : 0,
      streamId,
      headers: { [CONTENT_TYPE_HEADER]: CONTENT_TYPE_JSON, [SERVICE_MODEL_TYPE_HEADER]: shape },
      payload: jsonBytes(body),
    });
  }

  forgetStream(streamId: number): void {
    this.streams.delete(streamId);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      for (const bytes of this.splitter.push(chunk)) {
        this.onFrame(decodeFrame(bytes));
        if (this.closed) return;
      }
    } catch (error) {
      if (
        hasErrorCode(error, 'ERR_NUCLEUS_FRAME_INVALID') ||
        hasErrorCode(error, 'ERR_NUCLEUS_FRAME_TOO_LARGE')
      ) {
        log.warn('closing connection after a bad frame', { component: this.component, error });
        this.close('bad frame');
        return;
      }
      // A fault while handling one client's frame must not take the server down for the others.
      log.error('closing connection after an internal fault', { component: this.component, error });
      this.close('internal fault');
    }
  }

  private onFrame(frame: RpcFrame): void {
    if (frame.type === MessageType.ApplicationMessage || frame.type === MessageType.ApplicationError) {
      this.onApplicationFrame(frame);
      return;
    }
    this.onProtocolFrame(frame);
  }

  private onProtocolFrame(frame: RpcFrame): void {
    switch (frame.type) {
      case MessageType.Connect:
        this.onConnect(frame);
        return;
      case MessageType.Ping: {
        // The nucleus echoes the ping's payload and its non-':' headers.
        const headers = Object.fromEntries(
          Object.entries(frame.headers).filter(([name]) => !name.startsWith(':')),
        );
        this.sendFrame({
          type: MessageType.PingResponse,
          flags: 0,
          streamId: 0,
          headers,
          payload: frame.payload,
        });
        return;
      }
      case MessageType.PingResponse:
        return;
      default:
        this.refuseProtocolMessage(frame.type);
    }
  }

  /** ServiceOperationMappingContinuationHandler answers an unknown protocol message with an error, then closes. */
  private refuseProtocolMessage(type: number): void {
    this.sendFrame({
      type: MessageType.InternalError,
      flags: 0,
      streamId: 0,
      headers: { [CONTENT_TYPE_HEADER]: CONTENT_TYPE_JSON },
      payload: jsonBytes({
        error: 'Unrecognized Message Type',
        message: `message type value: ${type} is not recognized as a valid request path.`,
      }),
    });
    this.close(`unrecognized protocol message type ${type}`, { graceful: true });
  }

  private onConnect(frame: RpcFrame): void {
    if (this.component !== undefined) {
      this.refuseProtocolMessage(frame.type);
      return;
    }
    const componentName =
      frame.headers[':version'] === RPC_PROTOCOL_VERSION ? this.authenticate(frame) : undefined;
    if (componentName === undefined) {
      // A refused Connect gets a ConnectAck without ConnectionAccepted, then the connection is closed.
      this.sendFrame({
        type: MessageType.ConnectAck,
        flags: 0,
        streamId: 0,
        headers: {},
        payload: new Uint8Array(0),
      });
      this.close('connect refused', { graceful: true });
      return;
    }
    this.component = componentName;
    this.sendFrame({
      type: MessageType.ConnectAck,
      flags: MessageFlags.ConnectionAccepted,
      streamId: 0,
      headers: {},
      payload: new Uint8Array(0),
    });
  }

  private authenticate(frame: RpcFrame): string | undefined {
    try {
      const body: unknown = JSON.parse(textDecoder.decode(frame.payload));
      const authToken =
        typeof body === 'object' && body !== null ? (body as { authToken?: unknown }).authToken : undefined;
      return typeof authToken === 'string' ? this.host.authenticate(authToken) : undefined;
    } catch {
      return undefined;
    }
  }

  private onApplicationFrame(frame: RpcFrame): void {
    if (this.component === undefined) {
      // aws-c-event-stream refuses application messages before the Connect handshake completed.
      this.sendFrame({
        type: MessageType.ProtocolError,
        flags: 0,
        streamId: 0,
        headers: {},
        payload: new Uint8Array(0),
      });
      this.close('application message before connect', { graceful: true });
      return;
    }
    const existing = this.streams.get(frame.streamId);
    if (existing !== undefined) {
      // The client ends a stream with an empty TerminateStream message; no operation takes client events.
      if ((frame.flags & MessageFlags.TerminateStream) !== 0) existing.finish();
      return;
    }
    if (frame.streamId <= this.lastStreamId) return; // late message on a stream that already ended
    this.lastStreamId = frame.streamId;
    this.openStream(frame, this.component);
  }

  private openStream(frame: RpcFrame, componentName: string): void {
    const operationName = frame.headers[OPERATION_HEADER] ?? '';
    const shapes = operationShapes(operationName);
    if (shapes === undefined) {
      this.refuseUnsupportedOperation(frame.streamId, operationName);
      return;
    }
    // The nucleus does not run an operation whose first message already terminates the stream.
    if ((frame.flags & MessageFlags.TerminateStream) !== 0) return;
    const stream = new RpcStream(frame.streamId, componentName, operationName, shapes, this);
    this.streams.set(frame.streamId, stream);
    let request: Record<string, unknown>;
    try {
      const parsed: unknown = frame.payload.length === 0 ? {} : JSON.parse(textDecoder.decode(frame.payload));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      request = parsed as Record<string, unknown>;
    } catch {
      stream.sendInternalError();
      return;
    }
    const handler = this.host.handlers.get(operationName);
    if (handler === undefined) {
      // Every model operation without a provider answers {} (the nucleus's DebugLoggingOperationHandler).
      stream.respond({});
      return;
    }
    void this.runHandler(handler, request, stream);
  }

  private async runHandler(handler: OperationHandler, request: Record<string, unknown>, stream: RpcStream) {
    try {
      await handler(request, stream, this.host.services);
    } catch (error) {
      if (error instanceof ModeledIpcError) {
        stream.sendError(error);
        return;
      }
      if (error instanceof UnmodeledIpcError) {
        log.warn('operation failed without a modeled error', { operation: stream.operationName, error });
        stream.sendInternalError();
        return;
      }
      // translateExceptions in the nucleus turns any other failure into a ServiceError.
      log.warn('operation failed', { operation: stream.operationName, error });
      const message = error instanceof Error ? error.message : String(error);
      stream.sendError(new ModeledIpcError('aws.greengrass#ServiceError', message));
    }
  }

  /** An operation name outside the model: the exact frame ServiceOperationMappingContinuationHandler sends. */
  private refuseUnsupportedOperation(streamId: number, operationName: string): void {
    this.sendFrame({
      type: MessageType.ApplicationError,
      flags: MessageFlags.TerminateStream,
      streamId,
      headers: { [CONTENT_TYPE_HEADER]: CONTENT_TYPE_JSON },
      payload: textEncoder.encode(
        `{ "error": "Unsupported Operation", "message": "${operationName} is an unsupported operation." }`,
      ),
    });
  }
}
