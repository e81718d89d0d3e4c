// A test double of the data plane's CLAIM handling, speaking the real header codec over UDP on
// 127.0.0.1: a CLAIM newer than the service's epoch makes the claimant the owner and is answered
// CLAIM_ACCEPTED; any other is answered CLAIM_STALE naming the owner in force (design: the atomic cutover).
import dgram from 'node:dgram';

import { decodeHeader, encodeHeader, type EdgeShiftHeader } from '../../../p4/protocol/edgeshift-header.ts';
import { PacketType } from '../../../p4/protocol/edgeshift-protocol.ts';

export interface OwnerEntry {
  readonly nodeId: number;
  readonly epoch: number;
}

export class FakeDataPlane {
  readonly received: EdgeShiftHeader[] = [];
  /** When true, CLAIMs are swallowed without an answer. */
  isSilent = false;
  /** Nodes whose CLAIMs are swallowed (a node cut off from the data plane). */
  readonly unreachableNodes = new Set<number>();
  /** Called after a CLAIM is accepted, before its answer goes out. */
  onAccepted: ((claim: EdgeShiftHeader) => void) | undefined;
  private readonly owners = new Map<number, OwnerEntry>();
  private readonly socket: dgram.Socket;

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (bytes, from) => this.onMessage(bytes, from));
  }

  static async start(): Promise<FakeDataPlane> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new FakeDataPlane(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  setOwner(serviceId: number, entry: OwnerEntry): void {
    this.owners.set(serviceId, entry);
  }

  ownerOf(serviceId: number): OwnerEntry | undefined {
    return this.owners.get(serviceId);
  }

  /** Sends any header to a node, as the data plane would (ADVICE, or a replayed answer). */
  sendTo(port: number, header: EdgeShiftHeader): Promise<void> {
    return new Promise((resolve) =>
      this.socket.send(encodeHeader(header), port, '127.0.0.1', () => resolve()),
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private onMessage(bytes: Buffer, from: dgram.RemoteInfo): void {
    const decoded = decodeHeader(bytes);
    if (!decoded.ok || decoded.header.type !== PacketType.CLAIM) return;
    const claim = decoded.header;
    this.received.push(claim);
    if (this.isSilent || this.unreachableNodes.has(claim.nodeId)) return;
    const current = this.owners.get(claim.serviceId) ?? { nodeId: 0, epoch: 0 };
    const isNewer = claim.epoch > current.epoch;
    if (isNewer) {
      this.owners.set(claim.serviceId, { nodeId: claim.nodeId, epoch: claim.epoch });
      this.onAccepted?.(claim);
    }
    const owner = this.owners.get(claim.serviceId) ?? current;
    void this.sendTo(from.port, {
      ...claim,
      type: isNewer ? PacketType.CLAIM_ACCEPTED : PacketType.CLAIM_STALE,
      epoch: owner.epoch,
      targetNodeId: owner.nodeId,
    });
  }
}
