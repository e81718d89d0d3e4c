// A node's UDP socket towards the data plane (P4 switch or reference data plane): sends CLAIMs,
// receives CLAIM answers and ADVICE. The peer agent keeps one; a function host opens one for the
// CLAIMs of a direct cutover (components/function-host/direct-cutover.ts). Packets are encoded and
// decoded by the shared codec in p4/protocol/; anything that does not decode is dropped here, so
// listeners see only valid headers.
// Invariant: sequence numbers this link sends increase by one per packet (serial arithmetic wraps).
import dgram from 'node:dgram';

import type { Logger } from './logger.ts';
import { decodeHeader, encodeHeader, type EdgeShiftHeader } from '../../p4/protocol/edgeshift-header.ts';

export interface DataPlaneLinkOptions {
  /** Address and port of the data plane's EdgeShift control port. */
  readonly dataPlane: { readonly address: string; readonly port: number };
  /** Local address and port to bind (port 0 picks a free one). */
  readonly listen: { readonly address: string; readonly port: number };
  readonly log: Logger;
}

export type HeaderListener = (header: EdgeShiftHeader) => void;

export class DataPlaneLink {
  private readonly socket: dgram.Socket;
  private readonly options: DataPlaneLinkOptions;
  private readonly listeners = new Set<HeaderListener>();
  private sequence = 0;

  private constructor(socket: dgram.Socket, options: DataPlaneLinkOptions) {
    this.socket = socket;
    this.options = options;
    socket.on('message', (bytes) => this.dispatch(bytes));
    socket.on('error', (err) => options.log.warn('data plane socket error', { err }));
  }

  static async open(options: DataPlaneLinkOptions): Promise<DataPlaneLink> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.listen.port, options.listen.address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new DataPlaneLink(socket, options);
  }

  /** Where this link's packets go. */
  get dataPlane(): { readonly address: string; readonly port: number } {
    return this.options.dataPlane;
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  nextSequence(): number {
    this.sequence = (this.sequence + 1) >>> 0;
    return this.sequence;
  }

  send(header: EdgeShiftHeader): Promise<void> {
    const bytes = encodeHeader(header);
    return new Promise<void>((resolve, reject) => {
      this.socket.send(bytes, this.options.dataPlane.port, this.options.dataPlane.address, (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }

  /** Calls `listener` for every valid header received; returns the function that removes it. */
  subscribe(listener: HeaderListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private dispatch(bytes: Buffer): void {
    const decoded = decodeHeader(bytes);
    if (!decoded.ok) {
      this.options.log.debug('dropped an undecodable packet', { code: decoded.code, reason: decoded.reason });
      return;
    }
    for (const listener of this.listeners) listener(decoded.header);
  }
}
