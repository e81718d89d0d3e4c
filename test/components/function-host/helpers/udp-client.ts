// A UDP client for the function host tests: sends request datagrams and collects every reply with the
// address it came from, so tests can assert exact payloads, counts and who answered.
import { createSocket, type Socket } from 'node:dgram';

import type { UdpAddress } from '../../../../components/function-host/function-host-api.ts';
import {
  encodeMessage,
  parseReply,
  type FunctionReply,
  type FunctionRequest,
} from '../../../../components/function-host/request-wire.ts';

export interface ReceivedReply {
  readonly reply: FunctionReply;
  readonly bytes: Buffer;
  readonly from: UdpAddress;
}

export class UdpTestClient {
  readonly replies: ReceivedReply[] = [];
  readonly #socket: Socket;
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('message', (bytes, sender) => {
      const parsed = parseReply(bytes);
      if (!parsed.ok) throw new Error(`test client got an unreadable reply: ${parsed.reason}`);
      this.replies.push({ reply: parsed.value, bytes, from: { address: sender.address, port: sender.port } });
      for (const wake of this.#waiters) wake();
    });
  }

  static async open(): Promise<UdpTestClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new UdpTestClient(socket);
  }

  get address(): UdpAddress {
    return { address: '127.0.0.1', port: this.#socket.address().port };
  }

  send(to: UdpAddress, request: FunctionRequest): void {
    this.#socket.send(encodeMessage(request), to.port, to.address);
  }

  sendRaw(to: UdpAddress, bytes: Uint8Array): void {
    this.#socket.send(bytes, to.port, to.address);
  }

  /** Resolves once `count` replies in all have arrived; rejects after `timeoutMs`. */
  async waitForReplies(count: number, timeoutMs = 10_000): Promise<ReceivedReply[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length < count) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) throw new Error(`expected ${count} replies, got ${this.replies.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remainingMs);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.#waiters = [];
    }
    return this.replies;
  }

  /** A bounded quiet period to prove no further reply comes (only used to assert absence). */
  async settle(quietMs = 200): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, quietMs));
  }

  close(): void {
    this.#socket.close();
  }
}
