// How a function calls the next service in its chain: one UDP socket per function host, one datagram
// per request (request-wire.ts), replies matched by request id. Called through ctx.call by the service
// runtime; where a service lives comes from the request server's resolver (routes, local, configured).
// Invariant: a retry reuses the request id, so the downstream's duplicate detection keeps it at-most-once.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

import { EdgeShiftError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { UdpAddress } from './function-host-api.ts';
import { encodeMessage, parseReply, type FunctionReply } from './request-wire.ts';

const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

/** A downstream service answered with an error; `code` is the one it sent (for example ERR_FNHOST_NOT_OWNER). */
export class DownstreamError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'DownstreamError';
    this.code = code;
  }
}

export interface DownstreamClientOptions {
  /** Where to send a request for `service` now (asked again on every attempt). */
  readonly resolve: (service: string) => UdpAddress;
  readonly callTimeoutMs: number;
  /** Attempts in all, the first included. */
  readonly callAttempts: number;
  readonly logger: Logger;
}

// Error replies that mean "not here, not now": the owner is moving, so try again.
const RETRYABLE_CODES = new Set(['ERR_FNHOST_NOT_OWNER', 'ERR_FNHOST_BUFFER_FULL']);

interface PendingCall {
  readonly onReply: (reply: FunctionReply) => void;
}

export class DownstreamClient {
  readonly #socket: Socket;
  readonly #options: DownstreamClientOptions;
  readonly #pending = new Map<string, PendingCall>();
  #isClosed = false;

  private constructor(socket: Socket, options: DownstreamClientOptions) {
    this.#socket = socket;
    this.#options = options;
    socket.on('message', (bytes: Buffer, sender: RemoteInfo) => this.#onMessage(bytes, sender));
  }

  static async open(options: DownstreamClientOptions, bindAddress = '0.0.0.0'): Promise<DownstreamClient> {
    // A large receive buffer absorbs a burst while the event loop is busy (the kernel caps it at rmem_max).
    const socket = createSocket({ type: 'udp4', recvBufferSize: RECEIVE_BUFFER_BYTES });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, bindAddress, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new DownstreamClient(socket, options);
  }

  get address(): UdpAddress {
    const { address, port } = this.#socket.address();
    return { address, port };
  }

  async call(service: string, id: string, key: string, body: unknown): Promise<unknown> {
    const { callAttempts, callTimeoutMs } = this.#options;
    for (let attempt = 1; attempt <= callAttempts; attempt += 1) {
      const reply = await this.#attempt(service, id, key, body, callTimeoutMs);
      if (reply === undefined) continue;
      if (reply.ok) return reply.body;
      const code = reply.error?.code ?? 'ERR_FNHOST_FUNCTION_FAILED';
      const message = reply.error?.message ?? 'downstream failed';
      if (!RETRYABLE_CODES.has(code) || attempt === callAttempts) throw new DownstreamError(code, message);
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, callTimeoutMs / 4)));
    }
    throw new EdgeShiftError(
      'ERR_FNHOST_CALL_TIMEOUT',
      `no reply from ${service} for request ${id} after ${callAttempts} attempts of ${callTimeoutMs} ms`,
      { context: { service, id } },
    );
  }

  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#socket.close();
  }

  #attempt(
    service: string,
    id: string,
    key: string,
    body: unknown,
    timeoutMs: number,
  ): Promise<FunctionReply | undefined> {
    if (this.#isClosed)
      return Promise.reject(new EdgeShiftError('ERR_FNHOST_CLOSED', 'function host closed'));
    const target = this.#options.resolve(service);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.#pending.set(id, {
        onReply: (reply) => {
          clearTimeout(timer);
          this.#pending.delete(id);
          resolve(reply);
        },
      });
      this.#socket.send(encodeMessage({ id, service, key, body }), target.port, target.address, (err) => {
        if (err) this.#options.logger.warn('downstream send failed', { service, id, err });
      });
    });
  }

  #onMessage(bytes: Buffer, sender: RemoteInfo): void {
    const reply = parseReply(bytes);
    if (!reply.ok) {
      this.#options.logger.warn('unreadable downstream reply', {
        reason: reply.reason,
        from: sender.address,
      });
      return;
    }
    // A reply to an attempt that already timed out, or a second answer to a retry: nothing waits for it.
    this.#pending.get(reply.value.id)?.onReply(reply.value);
  }
}
