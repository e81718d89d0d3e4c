// A TCP relay between a gRPC client and server, so a test can cut the link in the middle of a call:
// cut() destroys every relayed connection and stops accepting new ones; `accepted` counts connections.
import net from 'node:net';

export class TcpProxy {
  private readonly server: net.Server;
  private readonly sockets: Set<net.Socket>;

  private constructor(server: net.Server, sockets: Set<net.Socket>) {
    this.server = server;
    this.sockets = sockets;
  }

  /** Client connections accepted so far. */
  accepted = 0;

  static async start(upstreamPort: number): Promise<TcpProxy> {
    const sockets = new Set<net.Socket>();
    const counter = { onAccept: (): void => undefined };
    const server = net.createServer((client) => {
      counter.onAccept();
      const upstream = net.connect(upstreamPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => sockets.delete(socket));
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new TcpProxy(server, sockets);
    counter.onAccept = () => (proxy.accepted += 1);
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  cut(): void {
    this.server.close();
    for (const socket of this.sockets) socket.destroy();
  }
}
