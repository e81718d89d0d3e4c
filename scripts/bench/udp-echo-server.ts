// The simplest service the request path can have: a UDP counter that answers each FunctionRequest at
// once with the key's count (body.count), per request-wire.ts. Run as its own process by
// loadgen-overhead.ts, it gives the latency floor every other request-path benchmark is compared to.
// Prints one JSON line {"port": N} on stdout when listening (PORT env var, default any); stops on SIGTERM.

import dgram from 'node:dgram';
import { pathToFileURL } from 'node:url';
import { encodeMessage, parseRequest } from '../../components/function-host/request-wire.ts';

export function startUdpCounterServer(options: {
  host: string;
  port: number;
  node: string;
}): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  const counts = new Map<string, number>();
  socket.on('message', (bytes, from) => {
    const parsed = parseRequest(bytes);
    if (!parsed.ok) return;
    const { id, key } = parsed.value;
    const count = (counts.get(key) ?? 0) + 1;
    counts.set(key, count);
    socket.send(
      encodeMessage({ id, ok: true, body: { count }, node: options.node, epoch: 1 }),
      from.port,
      from.address,
    );
  });
  return new Promise((resolve) => socket.bind(options.port, options.host, () => resolve(socket)));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const socket = await startUdpCounterServer({
    host: '127.0.0.1',
    port: Number(process.env.PORT ?? 0),
    node: 'echo',
  });
  process.stdout.write(JSON.stringify({ port: socket.address().port }) + '\n');
  const stop = (): void => {
    socket.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  // A parent that spawns it passes --exit-with-parent: its stdin pipe closes when the parent dies.
  if (process.argv.includes('--exit-with-parent')) {
    process.stdin.on('end', stop);
    process.stdin.resume();
  }
}
