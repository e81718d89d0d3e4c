import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';

import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';

import { connectIpc, type IpcClient } from '../../components/common/ipc/index.ts';
import { createLogger } from '../../components/common/logger.ts';
import { cloudCommandTopic, cloudEventTopic, serveCloudCommands } from '../../agent/cloud-commands.ts';
import type { ControlRequest } from '../../agent/control-service.ts';
import {
  eventually,
  mqttProxyPolicy,
  startNucleus,
  type NucleusFixture,
} from '../scripts/local-nucleus/nucleus-fixture.ts';

describe('agent/cloud-commands', function () {
  this.timeout(30_000);
  let broker: Aedes;
  let server: Server;
  let cloud: MqttClient;
  let fixture: NucleusFixture;
  let ipc: IpcClient;
  const events: unknown[] = [];
  const handled: ControlRequest[] = [];

  before(async () => {
    broker = await Aedes.createBroker();
    server = createServer(broker.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const brokerUrl = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    cloud = await mqtt.connectAsync(brokerUrl, { clientId: 'operator' });
    await cloud.subscribeAsync(cloudEventTopic('node-a'));
    cloud.on('message', (_topic, payload) => events.push(JSON.parse(payload.toString('utf8'))));
    fixture = await startNucleus({ mqttBrokerUrl: brokerUrl, thingName: 'node-a' });
    // The same mqttproxy policy as recipes/com.edgeshift.PeerAgent.yaml, with the thing name filled in.
    const svcuid = fixture.register('com.edgeshift.PeerAgent', {
      accessControl: mqttProxyPolicy(
        ['aws.greengrass#PublishToIoTCore', 'aws.greengrass#SubscribeToIoTCore'],
        ['edgeshift/node-a/commands/*', 'edgeshift/node-a/events/*'],
      ),
    });
    ipc = await connectIpc({ socketPath: fixture.nucleus.socketPath, authToken: svcuid });
    await serveCloudCommands({
      ipc,
      thingName: 'node-a',
      logger: createLogger('test', { level: 'silent' }),
      handle: (request) => {
        handled.push(request);
        if (request.op === 'migrate' && request.service === 'unknown') {
          return Promise.reject(
            Object.assign(new Error('no such service'), { code: 'ERR_PEER_UNKNOWN_SERVICE' }),
          );
        }
        return Promise.resolve({ migrationId: 'm-1' });
      },
    });
  });

  after(async () => {
    await ipc.close();
    await fixture.cleanup();
    await cloud.endAsync(true);
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    events.length = 0;
    handled.length = 0;
  });

  /** The IoT Core subscription reaches the broker asynchronously: publish until an outcome comes back. */
  async function command(body: string): Promise<unknown> {
    for (let attempt = 0; attempt < 50 && events.length === 0; attempt += 1) {
      await cloud.publishAsync(cloudCommandTopic('node-a'), body);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await eventually(() => events.length > 0, 'an outcome must be published on the events topic');
    return events[0];
  }

  it('runs a migrate command from the cloud and publishes its outcome with the request id', async () => {
    const outcome = await command(
      JSON.stringify({
        requestId: 'r1',
        op: 'migrate',
        service: 'sensor-stats',
        targetNodeId: 'node-b',
        wait: false,
      }),
    );
    assert.deepEqual(outcome, { requestId: 'r1', ok: true, result: { migrationId: 'm-1' } });
    assert.deepEqual(handled[0], {
      op: 'migrate',
      service: 'sensor-stats',
      targetNodeId: 'node-b',
      wait: false,
    });
  });

  it('answers a malformed command with the reason and runs nothing', async () => {
    const outcome = await command(JSON.stringify({ requestId: 'r2', op: 'explode' }));
    assert.deepEqual(outcome, {
      requestId: 'r2',
      ok: false,
      error: {
        code: 'ERR_PEER_BAD_MESSAGE',
        message: "agent control request: op must be status, migrate, pull or drain, instead got 'explode'",
      },
    });
    assert.equal(handled.length, 0, 'a malformed command must not reach the agent');
  });

  it('answers a command that is not JSON', async () => {
    const outcome = await command('migrate please');
    assert.deepEqual(outcome, {
      ok: false,
      error: { code: 'ERR_PEER_BAD_MESSAGE', message: 'cloud command is not JSON' },
    });
  });

  it('reports the agent error code when the command fails', async () => {
    const outcome = await command(JSON.stringify({ op: 'migrate', service: 'unknown' }));
    assert.deepEqual(outcome, {
      ok: false,
      error: { code: 'ERR_PEER_UNKNOWN_SERVICE', message: 'no such service' },
    });
  });
});
