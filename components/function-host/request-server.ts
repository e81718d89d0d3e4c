// The request path on one node: a UDP socket per hosted service (one datagram per request and reply,
// request-wire.ts), the route table of option-1 cutover (setRoute), and the downstream client that
// functions call through. Each datagram goes to its service's runtime (service-runtime.ts); the control
// handlers reach runtimes through here. Invariant: no request is dropped silently: it is processed,
// buffered, forwarded, or answered with an error code.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

import { EdgeShiftError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { DownstreamClient } from './downstream-client.ts';
import type { FunctionRole, UdpAddress } from './function-host-api.ts';
import type { FunctionDefinition } from './function-loader.ts';
import type { HandOffPart, MirrorPart, SealedHandOff } from './hand-off-seal.ts';
import { encodeMessage, parseDatagram, type FunctionReply } from './request-wire.ts';
import { forwardedRequest, ServiceRuntime } from './service-runtime.ts';
import type { StateStore } from './state-store.ts';

const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

export interface HostedServiceOptions {
  readonly definition: FunctionDefinition;
  readonly serviceId: number;
  /** Port 0 binds an ephemeral port (tests). */
  readonly listen: UdpAddress;
  readonly role: FunctionRole;
  readonly epoch: number;
  /** State taken back from a checkpoint (state-checkpoint.ts). */
  readonly store?: StateStore;
}

export interface RouteEntry {
  readonly owner: UdpAddress;
  readonly epoch: number;
}

export interface RequestServerOptions {
  readonly nodeName: string;
  readonly services: readonly HostedServiceOptions[];
  /** The address other nodes reach this one at; default: each service's listen address. */
  readonly advertiseAddress?: string;
  /** Where services not hosted here live (for example a VIP of the data plane). */
  readonly serviceAddresses?: Readonly<Record<string, UdpAddress>>;
  readonly routes?: Readonly<Record<string, RouteEntry>>;
  readonly maxBufferedRequests: number;
  readonly dedupeEntriesPerKey: number;
  readonly handOverHoldMs: number;
  readonly callTimeoutMs: number;
  readonly callAttempts: number;
  /** A sealed hand-off reached a service port (the control handlers open and apply it). */
  readonly onHandOff?: (handOff: HandOffPart) => void;
  /** A part of a serving source's mirror reached a service port (the control handlers open it). */
  readonly onMirror?: (mirror: MirrorPart, from: UdpAddress) => void;
  /** A fence question or answer between the function hosts of a move (control-handlers.ts). */
  readonly onFence?: (fence: SealedHandOff, from: UdpAddress) => void;
  readonly logger: Logger;
}

interface HostedService {
  readonly runtime: ServiceRuntime;
  readonly socket: Socket;
  readonly listen: UdpAddress;
  /** The bound port (listen.port may be 0). */
  readonly port: number;
}

function bindSocket(listen: UdpAddress): Promise<Socket> {
  // A large receive buffer absorbs a burst while the event loop is busy (the kernel caps it at rmem_max).
  const socket = createSocket({ type: 'udp4', recvBufferSize: RECEIVE_BUFFER_BYTES });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(listen.port, listen.address, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

function sameAddress(a: UdpAddress, b: UdpAddress): boolean {
  return a.address === b.address && a.port === b.port;
}

export class RequestServer {
  readonly #options: RequestServerOptions;
  readonly #services = new Map<string, HostedService>();
  readonly #routes = new Map<string, RouteEntry>();
  #downstream: DownstreamClient | undefined;
  #isClosed = false;

  private constructor(options: RequestServerOptions) {
    this.#options = options;
    for (const [service, route] of Object.entries(options.routes ?? {})) this.#routes.set(service, route);
  }

  static async start(options: RequestServerOptions): Promise<RequestServer> {
    const server = new RequestServer(options);
    try {
      await server.#open();
    } catch (err) {
      await server.close();
      throw err;
    }
    return server;
  }

  runtime(service: string): ServiceRuntime {
    return this.#hosted(service).runtime;
  }

  runtimes(): ServiceRuntime[] {
    return [...this.#services.values()].map((hosted) => hosted.runtime);
  }

  /** The address this node's service is reached at (its bound port). */
  serviceAddress(service: string): UdpAddress {
    const hosted = this.#hosted(service);
    return { address: this.#advertisedAddressOf(hosted), port: hosted.port };
  }

  routes(): Readonly<Record<string, RouteEntry>> {
    return Object.fromEntries(this.#routes);
  }

  /**
   * Option-1 cutover: from now on `service` lives at `owner`. A route at an older epoch than the one
   * held is refused; a newer route to another node fences this node's runtime of the service.
   * Returns whether the table changed.
   */
  /** Sends one datagram from `service`'s port, where the peer's function host takes that service's traffic. */
  sendFrom(service: string, bytes: Uint8Array, to: UdpAddress): void {
    const hosted = this.#services.get(service);
    if (hosted !== undefined) this.#send(hosted.socket, bytes, to);
  }

  async setRoute(service: string, owner: UdpAddress, epoch: number): Promise<boolean> {
    if (!Number.isInteger(epoch) || epoch < 0) {
      throw new EdgeShiftError(
        'ERR_FNHOST_BAD_REQUEST',
        `route epoch must be a non-negative integer, got ${epoch}`,
      );
    }
    if (!Number.isInteger(owner.port) || owner.port < 1 || owner.port > 65_535 || owner.address === '') {
      throw new EdgeShiftError(
        'ERR_FNHOST_BAD_REQUEST',
        `route owner ${owner.address}:${owner.port} is not valid`,
      );
    }
    const current = this.#routes.get(service);
    if (current !== undefined && epoch < current.epoch) {
      throw new EdgeShiftError(
        'ERR_FNHOST_STALE_EPOCH',
        `route for ${service} at epoch ${epoch} is older than the one held (epoch ${current.epoch})`,
        { context: { service, epoch, currentEpoch: current.epoch } },
      );
    }
    const isChange = current === undefined || current.epoch !== epoch || !sameAddress(current.owner, owner);
    this.#routes.set(service, { owner: { address: owner.address, port: owner.port }, epoch });
    const hosted = this.#services.get(service);
    if (hosted !== undefined && !this.#isSelf(hosted, owner)) await hosted.runtime.fence(epoch, owner);
    if (isChange) this.#options.logger.info('route set', { service, owner, epoch });
    return isChange;
  }

  /** Drain-free stop: sockets close, requests still queued get no reply. */
  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#downstream?.close();
    await Promise.all(
      [...this.#services.values()].map(
        (hosted) =>
          new Promise<void>((resolve) => {
            hosted.runtime.close();
            hosted.socket.close(() => resolve());
          }),
      ),
    );
  }

  #hosted(service: string): HostedService {
    const hosted = this.#services.get(service);
    if (hosted === undefined) {
      throw new EdgeShiftError(
        'ERR_FNHOST_UNKNOWN_SERVICE',
        `${this.#options.nodeName} does not run service ${service}; it runs: ${[...this.#services.keys()].join(', ')}`,
        { context: { service } },
      );
    }
    return hosted;
  }

  async #open(): Promise<void> {
    const { logger } = this.#options;
    this.#downstream = await DownstreamClient.open({
      resolve: (service) => this.#resolveDownstream(service),
      callTimeoutMs: this.#options.callTimeoutMs,
      callAttempts: this.#options.callAttempts,
      logger,
    });
    for (const service of this.#options.services) {
      const name = service.definition.name;
      if (this.#services.has(name)) {
        throw new EdgeShiftError('ERR_CONFIG_INVALID', `service ${name} is configured twice`, {
          context: { name },
        });
      }
      const socket = await bindSocket(service.listen);
      const runtime = this.#createRuntime(service, socket);
      this.#services.set(name, { runtime, socket, listen: service.listen, port: socket.address().port });
      socket.on('message', (bytes: Buffer, sender: RemoteInfo) => this.#onDatagram(socket, bytes, sender));
      socket.on('error', (err) => logger.error('service socket error', { service: name, err }));
      logger.info('serving', { service: name, port: socket.address().port, role: service.role });
    }
  }

  #createRuntime(service: HostedServiceOptions, socket: Socket): ServiceRuntime {
    const name = service.definition.name;
    const downstream = this.#downstream as DownstreamClient;
    return new ServiceRuntime({
      serviceId: service.serviceId,
      definition: service.definition,
      nodeName: this.#options.nodeName,
      role: service.role,
      epoch: service.epoch,
      ...(service.store === undefined ? {} : { store: service.store }),
      maxBufferedRequests: this.#options.maxBufferedRequests,
      dedupeEntriesPerKey: this.#options.dedupeEntriesPerKey,
      handOverHoldMs: this.#options.handOverHoldMs,
      send: (bytes, to) => this.#send(socket, bytes, to),
      call: (target, id, key, body) => downstream.call(target, id, key, body),
      routedOwner: () => this.#routedOwner(name),
      logger: this.#options.logger.child(name),
    });
  }

  #send(socket: Socket, bytes: Uint8Array, to: UdpAddress): void {
    if (this.#isClosed) return;
    socket.send(bytes, to.port, to.address, (err) => {
      if (err) this.#options.logger.warn('send failed', { to, err });
    });
  }

  #onDatagram(socket: Socket, bytes: Buffer, sender: RemoteInfo): void {
    const from: UdpAddress = { address: sender.address, port: sender.port };
    const parsed = parseDatagram(bytes);
    if (!parsed.ok) {
      this.#options.logger.warn('unreadable datagram', { reason: parsed.reason, from });
      this.#replyUnreadable(socket, bytes, from, parsed.reason);
      return;
    }
    const datagram = parsed.value;
    if (datagram.kind === 'handOverComplete') {
      this.#services.get(datagram.service)?.runtime.handOverComplete(datagram.epoch, datagram.mirrors);
      return;
    }
    if (datagram.kind === 'handOff') {
      this.#options.onHandOff?.(datagram.handOff);
      return;
    }
    if (datagram.kind === 'mirror') {
      this.#options.onMirror?.(datagram.mirror, from);
      return;
    }
    if (datagram.kind === 'mirrorAck') {
      this.#services.get(datagram.service)?.runtime.acceptMirrorAck(datagram.epoch, datagram.through);
      return;
    }
    if (datagram.kind === 'fence') {
      this.#options.onFence?.(datagram.fence, from);
      return;
    }
    if (datagram.kind === 'cutoverNotice') {
      const runtime = this.#services.get(datagram.service)?.runtime;
      if (runtime?.cutoverNotice(datagram.epoch, datagram.token) !== true) {
        this.#options.logger.debug('cutover notice ignored', { service: datagram.service, from });
      }
      return;
    }
    const { request } = datagram;
    const hosted = this.#services.get(request.service);
    if (hosted !== undefined) {
      hosted.runtime.arrive(request, from);
      return;
    }
    const route = this.#routes.get(request.service);
    const forwarded = forwardedRequest(request, request.replyTo ?? from);
    if (route !== undefined && forwarded !== undefined) {
      this.#send(socket, encodeMessage(forwarded), route.owner);
      return;
    }
    const reply: FunctionReply = {
      id: request.id,
      ok: false,
      error: {
        code: 'ERR_FNHOST_UNKNOWN_SERVICE',
        message: `${this.#options.nodeName} does not run ${request.service}`,
      },
      node: this.#options.nodeName,
      epoch: 0,
    };
    this.#send(socket, encodeMessage(reply), request.replyTo ?? from);
  }

  /** A request we cannot parse still gets an answer when its id can be read, so a client never waits. */
  #replyUnreadable(socket: Socket, bytes: Buffer, from: UdpAddress, reason: string): void {
    let id: unknown;
    try {
      id = (JSON.parse(bytes.toString('utf8')) as { id?: unknown }).id;
    } catch {
      return;
    }
    if (typeof id !== 'string') return;
    const reply: FunctionReply = {
      id,
      ok: false,
      error: { code: 'ERR_FNHOST_BAD_REQUEST', message: reason },
      node: this.#options.nodeName,
      epoch: 0,
    };
    this.#send(socket, encodeMessage(reply), from);
  }

  #advertisedAddressOf(hosted: HostedService): string {
    if (this.#options.advertiseAddress !== undefined) return this.#options.advertiseAddress;
    return hosted.listen.address === '0.0.0.0' ? '127.0.0.1' : hosted.listen.address;
  }

  #isSelf(hosted: HostedService, owner: UdpAddress): boolean {
    if (owner.port !== hosted.port) return false;
    return owner.address === this.#advertisedAddressOf(hosted) || owner.address === hosted.listen.address;
  }

  #routedOwner(service: string): UdpAddress | undefined {
    const route = this.#routes.get(service);
    const hosted = this.#services.get(service);
    if (route === undefined || hosted === undefined || this.#isSelf(hosted, route.owner)) return undefined;
    return route.owner;
  }

  /** Route first (option 1), then the local owner, then the configured address, then the local runtime. */
  #resolveDownstream(service: string): UdpAddress {
    const route = this.#routes.get(service);
    const hosted = this.#services.get(service);
    if (route !== undefined && (hosted === undefined || !this.#isSelf(hosted, route.owner)))
      return route.owner;
    if (hosted !== undefined && hosted.runtime.role === 'owner') return this.#localAddress(hosted);
    const configured = this.#options.serviceAddresses?.[service];
    if (configured !== undefined) return configured;
    if (hosted !== undefined) return this.#localAddress(hosted);
    throw new EdgeShiftError(
      'ERR_FNHOST_UNKNOWN_SERVICE',
      `no route to service ${service}: not hosted on ${this.#options.nodeName}, no setRoute and no serviceAddresses entry`,
      { context: { service } },
    );
  }

  #localAddress(hosted: HostedService): UdpAddress {
    const address = hosted.listen.address === '0.0.0.0' ? '127.0.0.1' : hosted.listen.address;
    return { address, port: hosted.port };
  }
}
