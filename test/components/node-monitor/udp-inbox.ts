// A UDP socket on 127.0.0.1 that collects datagrams for the node monitor's tests: the monitor sends
// real METRICS packets and the test reads them back, byte for byte.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

const RECEIVE_TIMEOUT_MS = 5000;

export interface Datagram {
  readonly bytes: Buffer;
  readonly from: RemoteInfo;
}

export class UdpInbox {
  private readonly queued: Datagram[] = [];
  private waiting: ((datagram: Datagram) => void) | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(private readonly socket: Socket) {
    socket.on('message', (bytes, from) => {
      const datagram = { bytes, from };
      const waiting = this.waiting;
      this.waiting = undefined;
      if (waiting === undefined) this.queued.push(datagram);
      else waiting(datagram);
    });
  }

  static async open(address = '127.0.0.1'): Promise<UdpInbox> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, address, resolve));
    return new UdpInbox(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Datagrams received and not read yet. */
  get pendingCount(): number {
    return this.queued.length;
  }

  async next(): Promise<Buffer> {
    return (await this.nextDatagram()).bytes;
  }

  nextDatagram(): Promise<Datagram> {
    const queued = this.queued.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const port = this.port;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.waiting = undefined;
        reject(new Error(`no datagram on 127.0.0.1:${port} within ${RECEIVE_TIMEOUT_MS} ms`));
      }, RECEIVE_TIMEOUT_MS);
      this.timers.add(timer);
      this.waiting = (datagram) => {
        clearTimeout(timer);
        this.timers.delete(timer);
        resolve(datagram);
      };
    });
  }

  send(bytes: Uint8Array, port: number, address = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(bytes, port, address, (err) => (err ? reject(err) : resolve())),
    );
  }

  close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
