// Makes a TCP port of one network namespace reachable from every other through a Unix socket (the file
// system is shared across namespaces): `tsx scripts/testbed/netns-unix-bridge.ts --unix <path> --to
// 127.0.0.1:<port>`. The testbed runs it in the switch namespace so a test reads the data plane's
// admin interface, which listens on that namespace's loopback only. Logs "bridge listening" when ready.
import { rmSync } from 'node:fs';
import net from 'node:net';

import { Command } from 'commander';

import { createLogger } from '../../components/common/logger.ts';

const options = new Command('netns-unix-bridge')
  .requiredOption('--unix <path>', 'Unix socket to listen on (removed first if stale)')
  .requiredOption('--to <host:port>', 'TCP address each connection is piped to')
  .parse()
  .opts<{ unix: string; to: string }>();
const logger = createLogger('netns-unix-bridge');
const [host = '127.0.0.1', portText = ''] = options.to.split(':');

rmSync(options.unix, { force: true });
const server = net.createServer((client) => {
  const upstream = net.connect(Number(portText), host);
  // Either side failing ends both: a half-open bridge would hang the test's request.
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.pipe(upstream).pipe(client);
});
server.listen(options.unix, () => logger.info('bridge listening', { unix: options.unix, to: options.to }));
const stop = (): void => {
  // Open keep-alive connections would hold close() back; the test owning them is done anyway.
  server.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
