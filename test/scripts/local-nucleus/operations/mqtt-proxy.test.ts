import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';

import { Aedes } from 'aedes';
import { greengrasscoreipc } from 'aws-iot-device-sdk-v2';
import mqtt, { type MqttClient } from 'mqtt';

import { freePort } from '../../../support/free-port.ts';
import { eventually, mqttProxyPolicy, startNucleus, type NucleusFixture } from '../nucleus-fixture.ts';

describe('operations/mqtt-proxy', function () {
  this.timeout(30_000);
  let broker: Aedes;
  let server: Server;
  let brokerUrl: string;
  let cloud: MqttClient;
  let fixture: NucleusFixture;
  let client: greengrasscoreipc.Client;

  beforeEach(async () => {
    broker = await Aedes.createBroker();
    server = createServer(broker.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    brokerUrl = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    cloud = await mqtt.connectAsync(brokerUrl, { clientId: 'cloud-side' });
    fixture = await startNucleus({ mqttBrokerUrl: brokerUrl });
    const policy = { accessControl: mqttProxyPolicy(['*'], ['devices/+/telemetry', 'commands/#']) };
    client = await fixture.client(fixture.register('com.example.Bridge', policy));
  });

  afterEach(async () => {
    await fixture.cleanup();
    await cloud.endAsync(true);
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('publishes to the broker with the exact payload bytes', async () => {
    const received: { topic: string; payload: Buffer }[] = [];
    await cloud.subscribeAsync('devices/#');
    cloud.on('message', (topic, payload) => received.push({ topic, payload }));
    await client.publishToIoTCore({
      topicName: 'devices/node-1/telemetry',
      qos: greengrasscoreipc.model.QOS.AT_LEAST_ONCE,
      payload: new Uint8Array([1, 2, 3, 250]),
    });
    await eventually(() => received.length === 1, 'the broker must receive the publish');
    assert.equal(received[0]?.topic, 'devices/node-1/telemetry');
    assert.deepEqual([...(received[0]?.payload ?? [])], [1, 2, 3, 250], 'payload bytes unchanged');
  });

  it('delivers broker messages to a SubscribeToIoTCore stream until it closes', async () => {
    const received: greengrasscoreipc.model.IoTCoreMessage[] = [];
    const operation = client.subscribeToIoTCore({
      topicName: 'commands/#',
      qos: greengrasscoreipc.model.QOS.AT_MOST_ONCE,
    });
    operation.on('message', (message) => received.push(message));
    await operation.activate();
    await cloud.publishAsync('commands/node-1/migrate', Buffer.from('{"go":true}'));
    await eventually(() => received.length === 1, 'the subscriber must receive the broker message');
    assert.equal(received[0]?.message?.topicName, 'commands/node-1/migrate');
    assert.equal(Buffer.from(received[0]?.message?.payload as ArrayBuffer).toString(), '{"go":true}');
    assert.deepEqual(
      [received[0]?.message?.retain, received[0]?.message?.payloadFormat],
      [false, greengrasscoreipc.model.PayloadFormat.BYTES],
      'retain and the bytes payload format travel as the nucleus sends them',
    );
    const unsubscribed = new Promise<string[]>((resolve) =>
      broker.once('unsubscribe', (topics: string[]) => resolve(topics)),
    );
    await operation.close();
    assert.deepEqual(
      await unsubscribed,
      ['commands/#'],
      'the last stream on a filter must release it at the broker',
    );
  });

  it('fails start() with ERR_NUCLEUS_MQTT_BRIDGE when no broker listens at mqttBrokerUrl', async () => {
    const closedPort = await freePort(); // nothing listens there
    await assert.rejects(startNucleus({ mqttBrokerUrl: `mqtt://127.0.0.1:${closedPort}` }), {
      code: 'ERR_NUCLEUS_MQTT_BRIDGE',
    });
  });

  it('refuses topics outside the mqttproxy policy with UnauthorizedError "Not Authorized"', async () => {
    await assert.rejects(
      client.publishToIoTCore({
        topicName: 'devices/a/b/telemetry',
        qos: greengrasscoreipc.model.QOS.AT_MOST_ONCE,
        payload: new Uint8Array([1]),
      }),
      (error: { serviceError?: { message?: string } }) => {
        assert.equal(
          error.serviceError?.message,
          'Not Authorized',
          'the nucleus hides the detail from the client',
        );
        return true;
      },
      '+ in a policy matches exactly one level',
    );
    await assert.rejects(
      client
        .subscribeToIoTCore({ topicName: 'other/#', qos: greengrasscoreipc.model.QOS.AT_MOST_ONCE })
        .activate(),
      'a filter outside the policy must be refused',
    );
  });

  it('refuses a publish without a payload with "Payload is required"', async () => {
    await assert.rejects(
      client.publishToIoTCore({
        topicName: 'devices/n/telemetry',
        qos: greengrasscoreipc.model.QOS.AT_MOST_ONCE,
      }),
      /Unexpected response shape received: 'aws\.greengrass#InvalidArgumentsError'/,
      'InvalidArgumentsError is outside the PublishToIoTCore model, so the client sees an unexpected shape',
    );
  });
});
