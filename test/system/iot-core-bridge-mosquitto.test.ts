import assert from 'node:assert/strict';
import { once } from 'node:events';

import { mqtt5 } from 'aws-iot-device-sdk-v2';

import { connectIpc, type IpcClient } from '../../components/common/ipc/index.ts';
import {
  startNucleus,
  mqttProxyPolicy,
  type NucleusFixture,
} from '../scripts/local-nucleus/nucleus-fixture.ts';
import { startMosquitto, type MosquittoBroker } from './support/mosquitto.ts';
import { requireSystem } from './support/requirements.ts';

/** The cloud side: the SDK's MQTT5 client, as an operator's tool or an IoT rule would be. */
async function connectCloudClient(port: number): Promise<mqtt5.Mqtt5Client> {
  const client = new mqtt5.Mqtt5Client({
    hostName: '127.0.0.1',
    port,
    connectProperties: { keepAliveIntervalSeconds: 30, clientId: 'edgeshift-cloud-test' },
  });
  const connected = once(client, 'connectionSuccess');
  client.start();
  await connected;
  return client;
}

describe('IoT Core bridge against mosquitto (system)', () => {
  let broker: MosquittoBroker;
  let fixture: NucleusFixture;
  let component: IpcClient;
  let cloud: mqtt5.Mqtt5Client;

  before(async () => {
    requireSystem(['mosquitto']);
    broker = await startMosquitto();
    fixture = await startNucleus({ mqttBrokerUrl: broker.url, thingName: 'node-a' });
    const svcuid = fixture.register('com.edgeshift.PeerAgent', {
      accessControl: mqttProxyPolicy(
        ['aws.greengrass#PublishToIoTCore', 'aws.greengrass#SubscribeToIoTCore'],
        ['edgeshift/things/node-a/*'],
      ),
    });
    component = await connectIpc({ socketPath: fixture.nucleus.socketPath, authToken: svcuid });
    cloud = await connectCloudClient(broker.port);
  });

  after(async () => {
    const stopped = once(cloud, 'stopped');
    cloud.stop();
    await stopped;
    cloud.close();
    await component.close();
    await fixture.cleanup();
    await broker.stop();
  });

  it('carries a component PublishToIoTCore to an MQTT 5 subscriber in the cloud', async () => {
    await cloud.subscribe({
      subscriptions: [{ topicFilter: 'edgeshift/things/node-a/status', qos: mqtt5.QoS.AtLeastOnce }],
    });
    const received = once(cloud, 'messageReceived');
    await component.publishToIoTCore('edgeshift/things/node-a/status', JSON.stringify({ state: 'RUNNING' }));
    const [event] = (await received) as [mqtt5.MessageReceivedEvent];
    assert.equal(event.message.topicName, 'edgeshift/things/node-a/status');
    assert.deepEqual(JSON.parse(Buffer.from(event.message.payload as ArrayBuffer).toString('utf8')), {
      state: 'RUNNING',
    });
  });

  it('delivers a cloud command published over MQTT 5 to a component subscribed with SubscribeToIoTCore', async () => {
    const commands: string[] = [];
    const arrived = new Promise<void>((resolve) => {
      void component.subscribeToIoTCore('edgeshift/things/node-a/commands', (message) => {
        commands.push(Buffer.from(message.payload).toString('utf8'));
        resolve();
      });
    });
    // The subscription reaches mosquitto asynchronously: publish until the component has it.
    for (let attempt = 0; commands.length === 0 && attempt < 50; attempt += 1) {
      await cloud.publish({
        topicName: 'edgeshift/things/node-a/commands',
        qos: mqtt5.QoS.AtLeastOnce,
        payload: JSON.stringify({ op: 'migrate', service: 'sensor-stats', toNode: 'node-b' }),
      });
      await Promise.race([arrived, new Promise((resolve) => setTimeout(resolve, 100))]);
    }
    assert.deepEqual(JSON.parse(commands[0] ?? 'null'), {
      op: 'migrate',
      service: 'sensor-stats',
      toNode: 'node-b',
    });
  });

  it('refuses a topic outside the component mqttproxy policy', async () => {
    await assert.rejects(component.publishToIoTCore('other/topic', 'x'), { code: 'ERR_IPC_UNAUTHORIZED' });
  });
});
