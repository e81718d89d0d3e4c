import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { promisify } from 'node:util';

import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';

import { cloudCommandTopic, cloudEventTopic } from '../../../agent/cloud-commands.ts';

const run = promisify(execFile);

describe('scripts/cloud/cloud-cli', function () {
  this.timeout(60_000);
  let broker: Aedes;
  let server: Server;
  let brokerUrl: string;
  let device: MqttClient;

  before(async () => {
    broker = await Aedes.createBroker();
    server = createServer(broker.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    brokerUrl = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // The device side: answers each command on the events topic as the peer agent does.
    device = await mqtt.connectAsync(brokerUrl, { clientId: 'node-a' });
    await device.subscribeAsync(cloudCommandTopic('node-a'));
    device.on('message', (_topic, payload) => {
      const command = JSON.parse(payload.toString('utf8')) as { requestId: string; op: string };
      void device.publishAsync(
        cloudEventTopic('node-a'),
        JSON.stringify({ requestId: command.requestId, ok: true, result: { echoedOp: command.op } }),
      );
    });
  });

  after(async () => {
    await device.endAsync(true);
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('command: publishes the control command with a request id and prints the matching outcome', async () => {
    const { stdout } = await run('npx', [
      'tsx',
      'scripts/cloud/cloud-cli.ts',
      'command',
      '--thing',
      'node-a',
      '--broker',
      brokerUrl,
      '--json',
      '{"op":"status"}',
      '--timeout-ms',
      '20000',
    ]);
    const outcome = JSON.parse(stdout) as { requestId: string; ok: boolean; result: unknown };
    assert.match(outcome.requestId, /^[0-9a-f-]{36}$/, 'the CLI must tag its command with a request id');
    assert.deepEqual(
      { ok: outcome.ok, result: outcome.result },
      { ok: true, result: { echoedOp: 'status' } },
    );
  });

  it('command: refuses a command that is not a JSON object', async () => {
    await assert.rejects(
      run('npx', [
        'tsx',
        'scripts/cloud/cloud-cli.ts',
        'command',
        '--thing',
        'node-a',
        '--broker',
        brokerUrl,
        '--json',
        '[1]',
      ]),
      (err: { stderr: string }) => /--json must be a JSON object/.test(err.stderr),
    );
  });
});
