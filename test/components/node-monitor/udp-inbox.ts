// A UDP socket on 127.0.0.1 that collects datagrams for the node monitor's tests: the monitor sends
// real METRICS packets and the test reads them back, byte for byte.
import { createSocket, type Socket } from 'node:dgram';

const RECEIVE_TIMEOUT_MS = 5000;

export class UdpInbox {
  private readonly queued: Buffer[] = [];
  private waiting: ((datagram: Buffer) => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('message', (datagram) => {
      const waiting = this.waiting;
      this.waiting = undefined;
      if (waiting === undefined) this.queued.push(datagram);
      else waiting(datagram);
    });
  }

  static async open(): Promise<UdpInbox> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new UdpInbox(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Datagrams received and not read yet. */
  get pendingCount(): number {
    return this.queued.length;
  }

  next(): Promise<Buffer> {
    const queued = this.queued.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`no datagram on 127.0.0.1:${this.port} within ${RECEIVE_TIMEOUT_MS} ms`));
      }, RECEIVE_TIMEOUT_MS);
      this.waiting = (datagram) => {
        clearTimeout(timer);
        resolve(datagram);
      };
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
