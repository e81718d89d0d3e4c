// The one Greengrass IPC connection of a component: a thin layer over the real `greengrasscoreipc`
// client of aws-iot-device-sdk-v2 (connect with retry, local pub/sub, request/response, configuration,
// state, IoT Core). Used by component-runtime.ts and every component; talks only to the nucleus socket.
// Invariant: close() drains (pending publishes and handlers), then closes streams, then the client.
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';

import type { eventstream_rpc } from 'aws-iot-device-sdk-v2';
import { greengrasscoreipc } from 'aws-iot-device-sdk-v2';

import { EdgeShiftError } from '../errors.ts';
import { createLogger, type Logger } from '../logger.ts';
import {
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
  errorToReply,
  replyToError,
  replyTopicOf,
  requestTopicOf,
} from './request-envelope.ts';

const { model } = greengrasscoreipc;

export interface IpcConnectOptions {
  /** Unix socket of the nucleus; default AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT. */
  readonly socketPath?: string;
  /** The component's token; default SVCUID. */
  readonly authToken?: string;
  /** Attempts before ERR_IPC_CONNECT_FAILED (default 10). */
  readonly connectAttempts?: number;
  /** First wait between attempts, doubled each time up to 2 s (default 100 ms). */
  readonly retryDelayMs?: number;
  readonly logger?: Logger;
}

export type LocalMessage =
  | { readonly kind: 'json'; readonly topic: string; readonly value: unknown }
  | { readonly kind: 'binary'; readonly topic: string; readonly bytes: Uint8Array };

export type MessageHandler<T> = (message: T) => void | Promise<void>;

export interface IpcSubscription {
  close(): Promise<void>;
}

export interface SubscribeOptions {
  /** 'all' also delivers this component's own publishes; default is the nucleus's default. */
  readonly receiveMode?: 'all' | 'others';
}

export interface RequestOptions {
  /** Reply deadline (default 5000 ms); past it the promise rejects with ERR_IPC_REQUEST_TIMEOUT. */
  readonly timeoutMs?: number;
}

export type RequestHandler = (body: unknown, context: { readonly topic: string }) => unknown;

export interface ConfigurationUpdate {
  readonly componentName: string;
  readonly keyPath: readonly string[];
}

export interface ValidateConfigurationEvent {
  readonly deploymentId: string;
  readonly configuration: unknown;
}

export interface IoTCoreMessage {
  readonly topicName: string;
  readonly payload: Uint8Array;
}

export interface ComponentDetails {
  readonly componentName: string;
  readonly version: string;
  readonly state: string;
}

type Streaming<Ev> = eventstream_rpc.StreamingOperation<unknown, unknown, void, Ev>;

interface PendingRequest {
  readonly resolve: (body: unknown) => void;
  readonly reject: (err: EdgeShiftError) => void;
  readonly timer: NodeJS.Timeout;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
const MAX_RETRY_DELAY_MS = 2000;

/** Bytes of a payload the SDK hands over (ArrayBuffer, a view, or a string). */
export function payloadToBytes(payload: unknown): Uint8Array {
  if (payload instanceof Uint8Array)
    return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  if (payload instanceof ArrayBuffer) return new Uint8Array(payload);
  if (ArrayBuffer.isView(payload))
    return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  if (typeof payload === 'string') return new TextEncoder().encode(payload);
  return new Uint8Array(0);
}

function nucleusMessage(err: unknown): string {
  const serviceError = (err as { serviceError?: { message?: unknown } } | null)?.serviceError;
  if (typeof serviceError?.message === 'string') return serviceError.message;
  if (err instanceof Error) {
    const description = (err as { description?: unknown }).description;
    return typeof description === 'string' ? `${err.message} ${description}` : err.message;
  }
  return String(err);
}

/** Maps an SDK rejection to a coded error; an UnauthorizedError is told apart by the nucleus's wording. */
export function toIpcError(operation: string, err: unknown): EdgeShiftError {
  if (err instanceof EdgeShiftError) return err;
  const message = nucleusMessage(err);
  const code = /not authori[sz]ed/i.test(message) ? 'ERR_IPC_UNAUTHORIZED' : 'ERR_IPC_OPERATION_FAILED';
  return new EdgeShiftError(code, `${operation} failed: ${message}`, { context: { operation }, cause: err });
}

/** What activateStream needs of an SDK streaming operation. */
export interface ActivatableStream {
  activate(): Promise<unknown>;
  once(event: 'ended', listener: () => void): unknown;
  off(event: 'ended', listener: () => void): unknown;
}

/** How long a stream's activation may stay unsettled once the nucleus has ended the stream. */
export const ACTIVATION_AFTER_END_MS = 2000;

/**
 * Activates a stream. The nucleus refuses one with an error that also ends the stream; the SDK then
 * sends an end of stream of its own and waits for that send before it rejects the activation. That
 * wait has been seen to last for good, which would hang a component at its start. So once the stream
 * has ended, the activation gets `graceMs` to settle.
 */
export async function activateStream(
  stream: ActivatableStream,
  operation: string,
  graceMs = ACTIVATION_AFTER_END_MS,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let onEnded = (): void => undefined;
  const endedWithoutReason = new Promise<never>((_resolve, reject) => {
    onEnded = () => {
      timer = setTimeout(() => {
        const message = `${operation} failed: the nucleus ended the stream, and the IPC client gave no reason within ${graceMs} ms`;
        reject(new EdgeShiftError('ERR_IPC_OPERATION_FAILED', message, { context: { operation, graceMs } }));
      }, graceMs);
    };
  });
  stream.once('ended', onEnded);
  const activation = stream.activate();
  activation.catch(() => undefined); // raced below; a late rejection after the grace is not unhandled
  try {
    await Promise.race([activation, endedWithoutReason]);
  } finally {
    clearTimeout(timer);
    stream.off('ended', onEnded);
  }
}

/** The real SDK client for a socket and token (also used by tests that drive the nucleus at wire level). */
export function createSdkClient(socketPath: string, authToken: string): greengrasscoreipc.Client {
  const config = greengrasscoreipc.createDefaultClientConfig();
  config.hostName = socketPath;
  // The default transform reads SVCUID once at module load; set the token given to this client.
  config.connectTransform = (options) => {
    options.message.payload = JSON.stringify({ authToken });
    return Promise.resolve(options.message);
  };
  return greengrasscoreipc.createClient(config);
}

/** Connects to the nucleus, retrying with backoff; throws ERR_IPC_NOT_CONFIGURED or ERR_IPC_CONNECT_FAILED. */
export async function connectIpc(options: IpcConnectOptions = {}): Promise<IpcClient> {
  const logger = options.logger ?? createLogger('ipc');
  const socketPath = options.socketPath ?? process.env.AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT;
  const authToken = options.authToken ?? process.env.SVCUID ?? '';
  if (socketPath === undefined || socketPath === '') {
    throw new EdgeShiftError(
      'ERR_IPC_NOT_CONFIGURED',
      'no IPC socket: AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT is unset; run under a nucleus or pass socketPath',
    );
  }
  const attempts = options.connectAttempts ?? 10;
  let waitMs = options.retryDelayMs ?? 100;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    const client = createSdkClient(socketPath, authToken);
    try {
      await client.connect();
      logger.info('connected to the nucleus', { socketPath, attempt });
      return new IpcClient(client, logger);
    } catch (err) {
      lastError = err;
      await client.close().catch(() => undefined);
      logger.warn('IPC connect failed', { socketPath, attempt, error: nucleusMessage(err) });
      if (attempt < attempts) await delay(waitMs);
      waitMs = Math.min(waitMs * 2, MAX_RETRY_DELAY_MS);
    }
  }
  throw new EdgeShiftError(
    'ERR_IPC_CONNECT_FAILED',
    `could not connect to the nucleus at ${socketPath} after ${attempts} attempts: ${nucleusMessage(lastError)}`,
    { context: { socketPath, attempts }, cause: lastError },
  );
}

export class IpcClient {
  /** Identifies this connection's reply topics. */
  readonly clientId = randomUUID();
  private readonly streams = new Set<Streaming<unknown>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly pending = new Map<string, PendingRequest>();
  private readonly replySubscriptions = new Map<string, Promise<IpcSubscription>>();
  private readonly disconnectHandlers: (() => void)[] = [];
  private closing: Promise<void> | undefined;

  constructor(
    private readonly client: greengrasscoreipc.Client,
    private readonly logger: Logger,
  ) {
    client.on('disconnection', () => {
      if (this.closing !== undefined) return;
      this.logger.error('IPC connection to the nucleus lost');
      for (const handler of this.disconnectHandlers) handler();
    });
  }

  get isClosed(): boolean {
    return this.closing !== undefined;
  }

  /** Called once if the nucleus connection drops while the client is open. */
  onDisconnect(handler: () => void): void {
    this.disconnectHandlers.push(handler);
  }

  // ---- local publish/subscribe -----------------------------------------------------------------

  publishJson(topic: string, value: unknown): Promise<void> {
    this.assertOpen('PublishToTopic');
    return this.publishRaw(topic, { jsonMessage: { message: value } });
  }

  publishBinary(topic: string, bytes: Uint8Array): Promise<void> {
    this.assertOpen('PublishToTopic');
    return this.publishRaw(topic, { binaryMessage: { message: bytes } });
  }

  subscribe(
    topic: string,
    handler: MessageHandler<LocalMessage>,
    options: SubscribeOptions = {},
  ): Promise<IpcSubscription> {
    this.assertOpen('SubscribeToTopic');
    const request: greengrasscoreipc.model.SubscribeToTopicRequest = { topic };
    if (options.receiveMode !== undefined) {
      request.receiveMode =
        options.receiveMode === 'all'
          ? model.ReceiveMode.RECEIVE_ALL_MESSAGES
          : model.ReceiveMode.RECEIVE_MESSAGES_FROM_OTHERS;
    }
    return this.openStream('SubscribeToTopic', this.client.subscribeToTopic(request), (event) => {
      const message = toLocalMessage(topic, event);
      return message === undefined ? undefined : handler(message);
    });
  }

  // ---- request/response over local topics ------------------------------------------------------

  /** Publishes {correlationId, replyTo, body} on `<topic>/request` and resolves with the reply's body. */
  async request(topic: string, body: unknown, options: RequestOptions = {}): Promise<unknown> {
    this.assertOpen('request');
    const replyTo = replyTopicOf(topic, this.clientId);
    await this.ensureReplySubscription(topic, replyTo);
    this.assertOpen('request'); // close() may have started while subscribing
    const correlationId = randomUUID();
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const reply = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(
          new EdgeShiftError('ERR_IPC_REQUEST_TIMEOUT', `no reply on ${topic} within ${timeoutMs} ms`, {
            context: { topic, correlationId, timeoutMs },
          }),
        );
      }, timeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer });
    });
    try {
      await this.publishRaw(requestTopicOf(topic), {
        jsonMessage: { message: encodeRequest({ correlationId, replyTo, body }) },
      });
    } catch (err) {
      this.settle(correlationId)?.reject(toIpcError('request', err));
    }
    return reply;
  }

  /** Serves `<topic>/request`: each body goes to the handler, its result (or error) back to replyTo. */
  serve(topic: string, handler: RequestHandler): Promise<IpcSubscription> {
    this.assertOpen('serve');
    const requestTopic = requestTopicOf(topic);
    return this.subscribe(
      requestTopic,
      (message) => {
        if (message.kind !== 'json') {
          this.logger.warn('dropped a binary message on a request topic', { topic: requestTopic });
          return;
        }
        void this.track(this.answer(topic, message.value, handler));
      },
      { receiveMode: 'all' },
    );
  }

  // ---- configuration ---------------------------------------------------------------------------

  /**
   * The configuration at keyPath of this (or another) component; [] is the whole document. As in the
   * nucleus, a leaf comes wrapped in an object keyed by its name: ['periodMs'] gives {periodMs: 100}.
   */
  async getConfiguration(keyPath: readonly string[] = [], componentName?: string): Promise<unknown> {
    this.assertOpen('GetConfiguration');
    const request: greengrasscoreipc.model.GetConfigurationRequest = { keyPath: [...keyPath] };
    if (componentName !== undefined) request.componentName = componentName;
    const response = await this.call('GetConfiguration', () => this.client.getConfiguration(request));
    return response.value;
  }

  /** Merges valueToMerge at keyPath of this component's configuration. */
  async updateConfiguration(
    keyPath: readonly string[],
    valueToMerge: Record<string, unknown>,
  ): Promise<void> {
    this.assertOpen('UpdateConfiguration');
    await this.call('UpdateConfiguration', () =>
      this.client.updateConfiguration({ keyPath: [...keyPath], valueToMerge, timestamp: new Date() }),
    );
  }

  subscribeToConfigurationUpdate(
    handler: MessageHandler<ConfigurationUpdate>,
    options: { componentName?: string; keyPath?: readonly string[] } = {},
  ): Promise<IpcSubscription> {
    this.assertOpen('SubscribeToConfigurationUpdate');
    const request: greengrasscoreipc.model.SubscribeToConfigurationUpdateRequest = {
      keyPath: [...(options.keyPath ?? [])],
    };
    if (options.componentName !== undefined) request.componentName = options.componentName;
    return this.openStream(
      'SubscribeToConfigurationUpdate',
      this.client.subscribeToConfigurationUpdate(request),
      (event) => {
        const update = event.configurationUpdateEvent;
        if (update === undefined) return undefined;
        return handler({ componentName: update.componentName, keyPath: update.keyPath });
      },
    );
  }

  subscribeToValidateConfigurationUpdates(
    handler: MessageHandler<ValidateConfigurationEvent>,
  ): Promise<IpcSubscription> {
    this.assertOpen('SubscribeToValidateConfigurationUpdates');
    return this.openStream(
      'SubscribeToValidateConfigurationUpdates',
      this.client.subscribeToValidateConfigurationUpdates({}),
      (event) => {
        const validate = event.validateConfigurationUpdateEvent;
        if (validate === undefined) return undefined;
        return handler({
          deploymentId: validate.deploymentId,
          configuration: validate.configuration as unknown,
        });
      },
    );
  }

  async sendConfigurationValidityReport(
    deploymentId: string,
    status: 'ACCEPTED' | 'REJECTED',
    message?: string,
  ): Promise<void> {
    this.assertOpen('SendConfigurationValidityReport');
    const report: greengrasscoreipc.model.ConfigurationValidityReport = {
      deploymentId,
      status:
        status === 'ACCEPTED'
          ? model.ConfigurationValidityStatus.ACCEPTED
          : model.ConfigurationValidityStatus.REJECTED,
    };
    if (message !== undefined) report.message = message;
    await this.call('SendConfigurationValidityReport', () =>
      this.client.sendConfigurationValidityReport({ configurationValidityReport: report }),
    );
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  async updateState(state: 'RUNNING' | 'ERRORED'): Promise<void> {
    this.assertOpen('UpdateState');
    const reported =
      state === 'RUNNING' ? model.ReportedLifecycleState.RUNNING : model.ReportedLifecycleState.ERRORED;
    await this.call('UpdateState', () => this.client.updateState({ state: reported }));
  }

  async getComponentDetails(componentName: string): Promise<ComponentDetails> {
    this.assertOpen('GetComponentDetails');
    const response = await this.call('GetComponentDetails', () =>
      this.client.getComponentDetails({ componentName }),
    );
    const details = response.componentDetails;
    return { componentName: details.componentName, version: details.version, state: String(details.state) };
  }

  // ---- AWS IoT Core through the nucleus --------------------------------------------------------

  async publishToIoTCore(topicName: string, payload: Uint8Array | string, qos: 0 | 1 = 1): Promise<void> {
    this.assertOpen('PublishToIoTCore');
    const request: greengrasscoreipc.model.PublishToIoTCoreRequest = {
      topicName,
      qos: qos === 0 ? model.QOS.AT_MOST_ONCE : model.QOS.AT_LEAST_ONCE,
      payload,
    };
    await this.track(this.call('PublishToIoTCore', () => this.client.publishToIoTCore(request)));
  }

  subscribeToIoTCore(
    topicName: string,
    handler: MessageHandler<IoTCoreMessage>,
    qos: 0 | 1 = 1,
  ): Promise<IpcSubscription> {
    this.assertOpen('SubscribeToIoTCore');
    const request: greengrasscoreipc.model.SubscribeToIoTCoreRequest = {
      topicName,
      qos: qos === 0 ? model.QOS.AT_MOST_ONCE : model.QOS.AT_LEAST_ONCE,
    };
    return this.openStream('SubscribeToIoTCore', this.client.subscribeToIoTCore(request), (event) => {
      if (event.message === undefined) return undefined;
      return handler({ topicName: event.message.topicName, payload: payloadToBytes(event.message.payload) });
    });
  }

  // ---- shutdown --------------------------------------------------------------------------------

  /** Drains in-flight publishes and request handlers, fails pending requests, closes streams, then the client. */
  close(): Promise<void> {
    this.closing ??= this.drainAndClose();
    return this.closing;
  }

  private async drainAndClose(): Promise<void> {
    for (const correlationId of [...this.pending.keys()]) {
      this.settle(correlationId)?.reject(
        new EdgeShiftError('ERR_IPC_CLOSED', 'IPC client closed before the reply arrived', {
          context: { correlationId },
        }),
      );
    }
    // A handler finishing may publish its reply: loop until nothing new was started.
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await Promise.allSettled([...this.streams].map((stream) => stream.close()));
    this.streams.clear();
    await this.client.close();
    this.logger.info('IPC client closed');
  }

  // ---- internals -------------------------------------------------------------------------------

  private assertOpen(operation: string): void {
    if (this.closing === undefined) return;
    throw new EdgeShiftError('ERR_IPC_CLOSED', `${operation} called after the IPC client was closed`, {
      context: { operation },
    });
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    const forget = (): void => {
      this.inFlight.delete(promise);
    };
    promise.then(forget, forget);
    return promise;
  }

  private async call<T>(operation: string, invoke: () => Promise<T>): Promise<T> {
    try {
      return await invoke();
    } catch (err) {
      throw toIpcError(operation, err);
    }
  }

  private publishRaw(topic: string, publishMessage: greengrasscoreipc.model.PublishMessage): Promise<void> {
    return this.track(
      this.call('PublishToTopic', () => this.client.publishToTopic({ topic, publishMessage })).then(
        () => undefined,
      ),
    );
  }

  private async openStream<Ev>(
    operation: string,
    stream: Streaming<Ev>,
    onEvent: (event: Ev) => void | Promise<void>,
  ): Promise<IpcSubscription> {
    stream.on('message', (event: Ev) => {
      try {
        const result = onEvent(event);
        if (result instanceof Promise) {
          this.track(result).catch((err: unknown) =>
            this.logger.error('stream handler failed', { operation, error: err }),
          );
        }
      } catch (err) {
        this.logger.error('stream handler failed', { operation, error: err });
      }
    });
    stream.on('streamError', (err) =>
      this.logger.warn('IPC stream error', { operation, error: nucleusMessage(err) }),
    );
    stream.on('ended', () => this.streams.delete(stream));
    await this.call(operation, () => activateStream(stream, operation));
    this.streams.add(stream);
    return {
      close: async () => {
        if (!this.streams.delete(stream)) return;
        await stream.close();
      },
    };
  }

  private ensureReplySubscription(topic: string, replyTo: string): Promise<IpcSubscription> {
    let subscription = this.replySubscriptions.get(replyTo);
    if (subscription === undefined) {
      subscription = this.subscribe(replyTo, (message) => this.onReply(topic, message), {
        receiveMode: 'all',
      });
      subscription.catch(() => this.replySubscriptions.delete(replyTo));
      this.replySubscriptions.set(replyTo, subscription);
    }
    return subscription;
  }

  private onReply(topic: string, message: LocalMessage): void {
    if (message.kind !== 'json') return;
    let reply;
    try {
      reply = decodeReply(message.value);
    } catch (err) {
      this.logger.warn('dropped a malformed reply', { topic, error: err });
      return;
    }
    const pending = this.settle(reply.correlationId);
    if (pending === undefined) return; // late reply after a timeout: nobody waits for it any more
    if (reply.ok) pending.resolve(reply.body);
    else pending.reject(replyToError(topic, reply.error));
  }

  private settle(correlationId: string): PendingRequest | undefined {
    const pending = this.pending.get(correlationId);
    if (pending === undefined) return undefined;
    clearTimeout(pending.timer);
    this.pending.delete(correlationId);
    return pending;
  }

  private async answer(topic: string, message: unknown, handler: RequestHandler): Promise<void> {
    let request;
    try {
      request = decodeRequest(message);
    } catch (err) {
      this.logger.warn('dropped a malformed request', { topic, error: err });
      return;
    }
    let reply;
    try {
      const body = await handler(request.body, { topic });
      reply = encodeReply({ correlationId: request.correlationId, ok: true, body });
    } catch (err) {
      reply = encodeReply(errorToReply(request.correlationId, err));
    }
    await this.publishRaw(request.replyTo, { jsonMessage: { message: reply } }).catch((err: unknown) =>
      this.logger.error('could not publish a reply', { topic, replyTo: request.replyTo, error: err }),
    );
  }
}

function toLocalMessage(
  topic: string,
  event: greengrasscoreipc.model.SubscriptionResponseMessage,
): LocalMessage | undefined {
  if (event.jsonMessage !== undefined) {
    return {
      kind: 'json',
      topic: event.jsonMessage.context?.topic ?? topic,
      value: event.jsonMessage.message as unknown,
    };
  }
  if (event.binaryMessage !== undefined) {
    return {
      kind: 'binary',
      topic: event.binaryMessage.context?.topic ?? topic,
      bytes: payloadToBytes(event.binaryMessage.message),
    };
  }
  return undefined;
}
