// A UDP endpoint driven over stdin/stdout, run inside a testbed namespace so a system test can send and
// receive datagrams as that host: `tsx scripts/testbed/netns-udp-endpoint.ts [--address a] [--port p]`.
// Prints {"event":"ready",address,port} once bound, then {"event":"datagram",from,payloadHex} per datagram;
// reads {"to":{address,port},"payloadHex"} lines and sends each. Invariant: a bad stdin line is reported
// as {"event":"error"} and changes nothing; the endpoint keeps serving.
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';

import { Ajv } from 'ajv';
import { Command, InvalidArgumentError } from 'commander';

export interface SendCommand {
  readonly to: { readonly address: string; readonly port: number };
  readonly payloadHex: string;
}

const validateSend = new Ajv({ allErrors: true }).compile<SendCommand>({
  type: 'object',
  additionalProperties: false,
  required: ['to', 'payloadHex'],
  properties: {
    to: {
      type: 'object',
      additionalProperties: false,
      required: ['address', 'port'],
      properties: {
        address: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
      },
    },
    payloadHex: { type: 'string', pattern: '^([0-9a-fA-F]{2})*$' },
  },
});

function port(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535)
    throw new InvalidArgumentError(`'${text}' is not a port (0..65535)`);
  return value;
}

function print(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function parseCommand(line: string): SendCommand | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (validateSend(value)) return value;
  return (validateSend.errors ?? [])
    .map((error) => `${error.instancePath || '(line)'} ${error.message}`)
    .join('; ');
}

const options = new Command('netns-udp-endpoint')
  .option('--address <ip>', 'bind address', '0.0.0.0')
  .option('--port <port>', 'bind port (0 = any free one)', port, 0)
  .parse()
  .opts<{ address: string; port: number }>();

const socket = dgram.createSocket('udp4');
socket.on('message', (message, remote) => {
  print({
    event: 'datagram',
    from: { address: remote.address, port: remote.port },
    payloadHex: message.toString('hex'),
  });
});
socket.on('error', (err) => print({ event: 'error', message: err.message }));
socket.bind(options.port, options.address, () => {
  const bound = socket.address();
  print({ event: 'ready', address: bound.address, port: bound.port });
});

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = parseCommand(line);
  if (typeof command === 'string') {
    print({ event: 'error', message: `bad command: ${command}` });
    return;
  }
  socket.send(Buffer.from(command.payloadHex, 'hex'), command.to.port, command.to.address, (err) => {
    if (err)
      print({ event: 'error', message: `send to ${command.to.address}:${command.to.port}: ${err.message}` });
  });
});
// stdin closing means the test is gone; the open stdin would otherwise keep the process alive after SIGTERM.
const stop = (): void => {
  socket.close(() => process.exit(0));
};
process.stdin.on('end', stop);
process.once('SIGTERM', stop);
