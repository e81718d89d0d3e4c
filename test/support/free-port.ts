// Ports for tests whose parts must know each other's port before any of them listens (two agents,
// a broker and its clients). A port from bind(0) comes from the kernel's ephemeral range, where an
// outgoing connection can take it between the check and the real bind; these come from below it.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';

const LOWEST = 20_000;

function ephemeralRangeStart(): number {
  try {
    const [start] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const port = Number(start);
    return Number.isInteger(port) && port > LOWEST + 1_000 ? port : 32_768;
  } catch {
    return 32_768;
  }
}

const ceiling = ephemeralRangeStart();
// Each test process walks the range from its own random point, so no port is handed out twice in one.
let next = LOWEST + Math.floor(Math.random() * (ceiling - LOWEST));

function isFree(kind: 'tcp' | 'udp', address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (kind === 'udp') {
      const socket = dgram.createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, address, () => socket.close(() => resolve(true)));
      return;
    }
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, address, () => server.close(() => resolve(true)));
  });
}

/** A port on `address` that is free now and outside the range the kernel hands out by itself. */
export async function freePort(kind: 'tcp' | 'udp' = 'tcp', address = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const port = next;
    next = next + 1 >= ceiling ? LOWEST : next + 1;
    if (await isFree(kind, address, port)) return port;
  }
  throw new Error(`no free ${kind} port on ${address} between ${LOWEST} and ${ceiling} after 100 tries`);
}
