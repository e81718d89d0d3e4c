// The function host's control channel: the control operations (control-handlers.ts) on a local TCP
// stream whose byte fields travel raw (control-channel-wire.ts), for the calls where base64 in JSON
// through the nucleus costs the most: snapshot chunks, deltas and the freeze window. The channel is
// opened through IPC (openControlChannel, guarded by the recipe's accessControl), which hands out its
// address and a random token; a connection that does not present the token first is closed.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import net from 'node:net';

import { toWireError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import {
  writeFrame,
  FrameReader,
  joinBytes,
  splitBytes,
  type ChannelMessage,
} from './control-channel-wire.ts';
import type { ControlChannelInfo, FunctionHostRequest } from './function-host-api.ts';

export interface ControlChannelOptions {
  /** Runs one validated control request (FunctionHostControlHandlers.handle). */
  readonly handle: (request: FunctionHostRequest) => Promise<unknown>;
  /** Validates a request from the wire (parseControlRequest). */
  readonly parse: (value: unknown) => FunctionHostRequest;
  /** Local address to listen on (default 127.0.0.1). */
  readonly host?: string;
  readonly logger: Logger;
}

export class ControlChannelServer {
  readonly #server: net.Server;
  readonly #token: Buffer;
  readonly #options: ControlChannelOptions;
  readonly #sockets = new Set<net.Socket>();
  /** Connections that presented the token: the node's peer agent holds one while it runs. */
  readonly #attached = new Set<net.Socket>();

  private constructor(server: net.Server, options: ControlChannelOptions) {
    this.#server = server;
    this.#options = options;
    this.#token = randomBytes(32);
    server.on('connection', (socket) => this.#accept(socket));
  }

  static async start(options: ControlChannelOptions): Promise<ControlChannelServer> {
    const server = net.createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new ControlChannelServer(server, options);
  }

  /** What openControlChannel answers: where to connect and the token to present. */
  get info(): ControlChannelInfo {
    const { address, port } = this.#server.address() as net.AddressInfo;
    return { address, port, token: this.#token.toString('hex') };
  }

  /** True while a client that presented the token is connected. */
  get isAttached(): boolean {
    return this.#attached.size > 0;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => {
      this.#sockets.delete(socket);
      this.#attached.delete(socket);
    });
    socket.on('error', () => socket.destroy());
    const reader = new FrameReader();
    let isAuthenticated = false;
    socket.on('data', (data: Buffer) => {
      let messages: ChannelMessage[];
      try {
        messages = reader.push(data);
      } catch (err) {
        this.#options.logger.warn('control channel: malformed frame, connection closed', { err });
        socket.destroy();
        return;
      }
      for (const message of messages) {
        if (!isAuthenticated) {
          isAuthenticated = this.#isToken(message.header.hello);
          if (!isAuthenticated) {
            this.#options.logger.warn('control channel: connection without the token closed');
            socket.destroy();
            return;
          }
          this.#attached.add(socket);
          continue;
        }
        void this.#serve(socket, message);
      }
    });
  }

  #isToken(hello: string | undefined): boolean {
    if (typeof hello !== 'string') return false;
    const presented = Buffer.from(hello, 'hex');
    return presented.byteLength === this.#token.byteLength && timingSafeEqual(presented, this.#token);
  }

  async #serve(socket: net.Socket, { header, body }: ChannelMessage): Promise<void> {
    let reply: ChannelMessage;
    try {
      const request = this.#options.parse(joinBytes(header.request, header.bytesField, body));
      const { json, bytesField, body: replyBody } = splitBytes(await this.#options.handle(request));
      reply = {
        header: {
          id: header.id,
          ok: true,
          result: json,
          ...(bytesField === undefined ? {} : { bytesField }),
        },
        ...(replyBody === undefined ? {} : { body: replyBody }),
      };
    } catch (err) {
      reply = { header: { id: header.id, ok: false, error: toWireError(err, 'ERR_FNHOST_FUNCTION_FAILED') } };
    }
    if (!socket.destroyed) writeFrame(socket, reply);
  }
}
