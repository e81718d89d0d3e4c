// Fault-injection links of the two-node test bed (two-node-testbed.ts): a TCP relay on the gRPC link
// between two peer agents that can cut every connection mid-stream, and a UDP relay between a peer agent
// and the data plane that can hold (drop) its CLAIMs, so a move stalls after the freeze and before the
// cutover. Invariant: a relay forwards bytes unchanged and, for UDP, from the node's own address, so the
// data plane still authenticates the node by source address.
import dgram from 'node:dgram';
import net from 'node:net';

import type { UdpAddress } from '../../components/function-host/function-host-api.ts';
import { PacketType } from '../../p4/protocol/edgeshift-protocol.ts';
import { decodeHeader } from '../../p4/protocol/edgeshift-header.ts';

/** A TCP relay from `listen` to `upstream`; cut() destroys the relayed connections, refuse() new ones. */
export class TcpLink {
  private readonly sockets = new Set<net.Socket>();
  private isRefusing = false;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(listenHost: string, upstream: UdpAddress): Promise<TcpLink> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, listenHost, resolve);
    });
    const link = new TcpLink(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (client) => link.relay(client, upstream));
    return link;
  }

  /** Connections open now (a gRPC channel keeps one). */
  get connectionCount(): number {
    return this.sockets.size / 2;
  }

  /** Destroys every relayed connection now; with `refuseNew`, later connections are reset at once. */
  cut(refuseNew: boolean): void {
    this.isRefusing = refuseNew;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.isRefusing = false;
  }

  close(): Promise<void> {
    this.cut(true);
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: net.Socket, upstream: UdpAddress): void {
    if (this.isRefusing) {
      client.resetAndDestroy();
      return;
    }
    const server = net.connect(upstream.port, upstream.address);
    for (const socket of [client, server]) {
      // A real link adds no Nagle stage: without this, each small gRPC write here can wait for the
      // peer's delayed ACK (about 40 ms), three times inside a migration's freeze window.
      socket.setNoDelay(true);
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => this.sockets.delete(socket));
    }
    client.pipe(server).pipe(client);
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
  }
}

function isClaim(bytes: Buffer): boolean {
  const decoded = decodeHeader(bytes);
  return decoded.ok && decoded.header.type === PacketType.CLAIM;
}

/**
 * A UDP relay between one node (its peer agent, and its function host on a direct cutover) and the
 * data plane. They send to `listen`; the relay sends on from a socket bound to the node's address and
 * passes every answer back to each sender, which picks out the answers to its own CLAIMs.
 */
export class ClaimGate {
  private readonly senders = new Map<string, UdpAddress>();
  private isHolding = false;
  heldClaims = 0;
  passedClaims = 0;

  private constructor(
    private readonly inbound: dgram.Socket,
    private readonly outbound: dgram.Socket,
    readonly listen: UdpAddress,
  ) {}

  static async start(nodeAddress: string, dataPlane: UdpAddress): Promise<ClaimGate> {
    const bind = async (): Promise<dgram.Socket> => {
      const socket = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, nodeAddress, resolve);
      });
      return socket;
    };
    const inbound = await bind();
    const outbound = await bind();
    const gate = new ClaimGate(inbound, outbound, { address: nodeAddress, port: inbound.address().port });
    inbound.on('message', (bytes, sender) => gate.fromNode(bytes, sender, dataPlane));
    outbound.on('message', (bytes) => gate.fromDataPlane(bytes));
    return gate;
  }

  /** While holding, CLAIMs from the node are dropped (counted in heldClaims). */
  hold(isHolding: boolean): void {
    this.isHolding = isHolding;
  }

  async close(): Promise<void> {
    await Promise.all(
      [this.inbound, this.outbound].map(
        (socket) => new Promise<void>((resolve) => socket.close(() => resolve())),
      ),
    );
  }

  private fromNode(bytes: Buffer, sender: dgram.RemoteInfo, dataPlane: UdpAddress): void {
    this.senders.set(`${sender.address}:${sender.port}`, { address: sender.address, port: sender.port });
    if (isClaim(bytes)) {
      if (this.isHolding) {
        this.heldClaims += 1;
        return;
      }
      this.passedClaims += 1;
    }
    this.outbound.send(bytes, dataPlane.port, dataPlane.address);
  }

  private fromDataPlane(bytes: Buffer): void {
    for (const sender of this.senders.values()) this.inbound.send(bytes, sender.port, sender.address);
  }
}
