// The node monitor's UDP socket: bound to the node's own address (the data plane authenticates METRICS
// by source IPv4 and port of its node_table entry), sends METRICS, and hands every datagram it receives
// (the data plane turns METRICS around as ADVICE to this socket) to the monitor. Used by node-monitor.ts.
// Invariant: a send resolves (with its error, if any), it never rejects, so a tick cannot fail on I/O.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

import type { Logger } from '../common/logger.ts';

export interface SocketBinding {
  /** Decides the family: IPv6 when this is an IPv6 literal, else IPv4. */
  readonly dataPlaneAddress: string;
  readonly sourceAddress?: string;
  readonly sourcePort?: number;
}

export type DatagramHandler = (bytes: Buffer, from: RemoteInfo) => void;

function familyOf(binding: SocketBinding): 'udp4' | 'udp6' {
  return isIPv6(binding.dataPlaneAddress) ? 'udp6' : 'udp4';
}

export class MetricsSocket {
  private constructor(
    private readonly socket: Socket,
    readonly binding: SocketBinding,
  ) {}

  static async open(
    binding: SocketBinding,
    onDatagram: DatagramHandler,
    logger: Logger,
  ): Promise<MetricsSocket> {
    const family = familyOf(binding);
    const socket = createSocket(family);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      const address = binding.sourceAddress ?? (family === 'udp6' ? '::' : '0.0.0.0');
      socket.bind({ address, port: binding.sourcePort ?? 0 }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => logger.error('metrics socket error', { err }));
    socket.on('message', onDatagram);
    return new MetricsSocket(socket, binding);
  }

  /** True when `binding` needs the same socket (family, source address and port). */
  fits(binding: SocketBinding): boolean {
    return (
      familyOf(binding) === familyOf(this.binding) &&
      binding.sourceAddress === this.binding.sourceAddress &&
      (binding.sourcePort ?? 0) === (this.binding.sourcePort ?? 0)
    );
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  send(bytes: Uint8Array, address: string, port: number): Promise<Error | null> {
    return new Promise((resolve) => {
      try {
        this.socket.send(bytes, port, address, (err) => resolve(err));
      } catch (err) {
        resolve(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
