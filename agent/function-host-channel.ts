// FunctionHostControl as the peer agent uses it: snapshot chunks, deltas and the freeze window's
// calls (freeze, activate, handOver) go over the function host's control channel
// (components/function-host/control-channel.ts), where bytes travel raw and no nucleus sits in
// between; every other operation goes over Greengrass IPC (function-host-client.ts). The channel is
// opened through IPC (openControlChannel, guarded by accessControl) and reopened after a break.
// Replies of both paths are checked by the same parseReply.
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

import { EdgeShiftError, isCatalogCode } from '../components/common/errors.ts';
import type { Logger } from '../components/common/logger.ts';
import {
  writeFrame,
  FrameReader,
  joinBytes,
  splitBytes,
  type ChannelMessage,
} from '../components/function-host/control-channel-wire.ts';
import type {
  ControlChannelInfo,
  FunctionHostControl,
  FunctionHostRequest,
  FunctionHostResponses,
} from '../components/function-host/function-host-api.ts';
import { parseReply } from './function-host-client.ts';

type Op = FunctionHostRequest['op'];

/** The operations that carry state bytes or sit in the freeze window, where every millisecond shows. */
const CHANNEL_OPS: ReadonlySet<Op> = new Set<Op>([
  'readExportChunk',
  'importChunk',
  'nextDelta',
  'importDelta',
  'freeze',
  'activate',
  'awaitActivation',
  'handOver',
]);

function channelClosed(message: string): EdgeShiftError {
  return new EdgeShiftError('ERR_FNHOST_CHANNEL_CLOSED', message);
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** One authenticated connection; calls are multiplexed by id and may complete out of order. */
class ChannelConnection {
  readonly #socket: net.Socket;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  /** Resolves when the connection has closed, from either end. */
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    const reader = new FrameReader();
    socket.on('data', (data: Buffer) => {
      try {
        for (const message of reader.push(data)) this.#onReply(message);
      } catch (err) {
        socket.destroy(err as Error);
      }
    });
    socket.on('error', () => undefined); // 'close' follows and fails what is pending
    socket.on('close', () => this.#failAll('the control channel closed'));
  }

  static connect(info: ControlChannelInfo, timeoutMs: number): Promise<ChannelConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: info.address, port: info.port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(channelClosed(`no connection to ${info.address}:${info.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(channelClosed(`cannot connect to ${info.address}:${info.port}: ${err.message}`));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        writeFrame(socket, { header: { id: 0, hello: info.token } });
        resolve(new ChannelConnection(socket));
      });
    });
  }

  get isOpen(): boolean {
    return !this.#socket.destroyed;
  }

  call(request: FunctionHostRequest, timeoutMs: number): Promise<unknown> {
    const id = this.#nextId++;
    const { json, bytesField, body } = splitBytes(request);
    return new Promise((resolve, reject) => {
      // A reply lost on a stream means the stream is broken: close it, and the next call reopens.
      const timer = setTimeout(() => {
        this.#socket.destroy();
        reject(channelClosed(`no reply to ${request.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      writeFrame(this.#socket, {
        header: {
          id,
          request: json as Record<string, unknown>,
          ...(bytesField === undefined ? {} : { bytesField }),
        },
        ...(body === undefined ? {} : { body }),
      });
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #onReply({ header, body }: ChannelMessage): void {
    const pending = this.#pending.get(header.id);
    if (pending === undefined) return;
    this.#pending.delete(header.id);
    clearTimeout(pending.timer);
    if (header.ok === true) {
      pending.resolve(joinBytes(header.result, header.bytesField, body));
      return;
    }
    const code = header.error?.code ?? '';
    const message = header.error?.message ?? 'the function host failed without a message';
    pending.reject(
      isCatalogCode(code)
        ? new EdgeShiftError(code, message, { context: { isRemote: true } })
        : new EdgeShiftError('ERR_FNHOST_CHANNEL_CLOSED', `unexpected error code ${code}: ${message}`),
    );
  }

  #failAll(message: string): void {
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(channelClosed(message));
    }
    this.#pending.clear();
  }
}

export interface ChannelOptions {
  /**
   * Called when an open channel closes without close() (the function host stopped or restarted, or
   * a reply was lost): the agent reopens it and checks what the host says it owns.
   */
  readonly onBroken?: () => void;
}

export class ChannelFunctionHostControl implements FunctionHostControl {
  readonly #ipc: FunctionHostControl;
  readonly #logger: Logger;
  readonly #onBroken: (() => void) | undefined;
  #connection: Promise<ChannelConnection> | undefined;
  #isClosed = false;

  constructor(ipc: FunctionHostControl, logger: Logger, options: ChannelOptions = {}) {
    this.#ipc = ipc;
    this.#logger = logger;
    this.#onBroken = options.onBroken;
  }

  async call<O extends Op>(
    request: Extract<FunctionHostRequest, { op: O }>,
    timeoutMs: number,
  ): Promise<FunctionHostResponses[O]> {
    if (!CHANNEL_OPS.has(request.op)) return this.#ipc.call(request, timeoutMs);
    const connection = await this.#open(timeoutMs);
    const reply = await connection.call(request, timeoutMs);
    return parseReply(request.op, reply) as FunctionHostResponses[O];
  }

  /**
   * Opens the channel ahead of the first call, so that a node's first move does not pay for the IPC
   * round trip and the connection. The function host may not serve its topic yet when the agent
   * starts (the dependency is soft), so each attempt is short: a move started meanwhile waits for one
   * attempt at most, then opens the channel itself. Resolves whether the channel opened.
   */
  async openAhead(attemptMs: number, attempts: number): Promise<boolean> {
    for (let attempt = 1; attempt <= attempts && !this.#isClosed; attempt += 1) {
      const startedMs = Date.now();
      try {
        await this.#open(attemptMs);
        return true;
      } catch {
        // Not serving yet: try again once this attempt's time is up.
        await delay(Math.max(0, attemptMs - (Date.now() - startedMs)));
      }
    }
    return false;
  }

  close(): void {
    this.#isClosed = true;
    void this.#connection?.then((connection) => connection.close()).catch(() => undefined);
    this.#connection = undefined;
  }

  /** The open connection, or a new one (openControlChannel over IPC, then connect and hello). */
  async #open(timeoutMs: number): Promise<ChannelConnection> {
    const current = this.#connection;
    if (current !== undefined) {
      const connection = await current.catch(() => undefined);
      if (connection?.isOpen === true) return connection;
      if (this.#connection === current) this.#connection = undefined;
    }
    this.#connection ??= (async () => {
      const info = await this.#ipc.call({ op: 'openControlChannel' }, timeoutMs);
      const connection = await ChannelConnection.connect(info, timeoutMs);
      this.#logger.info('control channel to the function host open', {
        address: info.address,
        port: info.port,
      });
      void connection.closed.then(() => {
        if (!this.#isClosed) this.#onBroken?.();
      });
      return connection;
    })();
    return this.#connection;
  }
}
