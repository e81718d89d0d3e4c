import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { Aedes } from 'aedes';
import mqtt from 'mqtt';

import { hasErrorCode } from '../../../../components/common/errors.ts';
import {
  connectIpc,
  type IoTCoreMessage,
  type IpcClient,
  type LocalMessage,
} from '../../../../components/common/ipc/index.ts';
import { LocalNucleus } from '../../../../scripts/local-nucleus/local-nucleus.ts';

const ALL_PUBSUB = {
  'aws.greengrass.ipc.pubsub': {
    'test:pubsub:1': {
      policyDescription: 'everything, for tests',
      operations: ['aws.greengrass#PublishToTopic', 'aws.greengrass#SubscribeToTopic'],
      resources: ['*'],
    },
  },
};

/** Resolves with the first value pushed, or rejects after timeoutMs (a deadline, never a sleep). */
function firstOf<T>(timeoutMs = 10_000): { push: (value: T) => void; value: Promise<T> } {
  let push: (value: T) => void = () => undefined;
  const value = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nothing arrived within ${timeoutMs} ms`)), timeoutMs);
    push = (item) => {
      clearTimeout(timer);
      resolve(item);
    };
  });
  return { push, value };
}

async function rejectsWithCode(promise: Promise<unknown>, code: string, why: string): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    assert.ok(hasErrorCode(err, code as never), `${why}: expected ${code}, got ${String(err)}`);
    return err;
  }
  assert.fail(`${why}: expected a rejection with ${code}`);
}

describe('components/common/ipc', function () {
  this.timeout(30_000);
  let dir: string;
  let nucleus: LocalNucleus;
  const clients: IpcClient[] = [];

  async function connectAs(name: string, configuration: Record<string, unknown> = {}): Promise<IpcClient> {
    const { svcuid } = nucleus.registerComponent({ name, version: '1.0.0', configuration });
    const ipc = await connectIpc({ socketPath: nucleus.socketPath, authToken: svcuid, connectAttempts: 3 });
    clients.push(ipc);
    return ipc;
  }

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'edgeshift-ipc-'));
    nucleus = new LocalNucleus({ socketPath: path.join(dir, 'ipc.socket'), thingName: 'thing-1' });
    await nucleus.start();
  });

  afterEach(async () => {
    await Promise.allSettled(clients.splice(0).map((client) => client.close()));
    await nucleus.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('connectIpc', () => {
    it('refuses to start without a socket path with ERR_IPC_NOT_CONFIGURED', async () => {
      const saved = process.env.AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT;
      delete process.env.AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT;
      try {
        await rejectsWithCode(connectIpc(), 'ERR_IPC_NOT_CONFIGURED', 'no socket configured');
      } finally {
        if (saved !== undefined) process.env.AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT = saved;
      }
    });

    it('gives up with ERR_IPC_CONNECT_FAILED after the retries when the token is unknown', async () => {
      const connecting = connectIpc({
        socketPath: nucleus.socketPath,
        authToken: 'not-a-token',
        connectAttempts: 2,
        retryDelayMs: 10,
      });
      const err = await rejectsWithCode(connecting, 'ERR_IPC_CONNECT_FAILED', 'bad token');
      assert.match(String((err as Error).message), /after 2 attempts/, 'message names the attempts');
    });

    it('retries until the nucleus socket appears', async () => {
      await nucleus.close();
      nucleus = new LocalNucleus({ socketPath: path.join(dir, 'late.socket'), thingName: 'thing-1' });
      const { svcuid } = nucleus.registerComponent({
        name: 'com.test.Late',
        version: '1.0.0',
        configuration: {},
      });
      const connecting = connectIpc({ socketPath: nucleus.socketPath, authToken: svcuid, retryDelayMs: 50 });
      await nucleus.start();
      const ipc = await connecting;
      clients.push(ipc);
      await ipc.updateState('RUNNING');
      assert.equal(nucleus.getState('com.test.Late'), 'RUNNING', 'the late connection works');
    });
  });

  describe('local publish/subscribe', () => {
    it('delivers a JSON message with its exact value and topic', async () => {
      const sender = await connectAs('com.test.Sender', { accessControl: ALL_PUBSUB });
      const receiver = await connectAs('com.test.Receiver', { accessControl: ALL_PUBSUB });
      const got = firstOf<LocalMessage>();
      await receiver.subscribe('edgeshift/test/json', got.push);
      await sender.publishJson('edgeshift/test/json', { a: 1, b: ['x', null], c: { d: true } });
      assert.deepEqual(
        await got.value,
        { kind: 'json', topic: 'edgeshift/test/json', value: { a: 1, b: ['x', null], c: { d: true } } },
        'the subscriber sees the published JSON unchanged',
      );
    });

    it('delivers a binary message byte for byte', async () => {
      const sender = await connectAs('com.test.Sender', { accessControl: ALL_PUBSUB });
      const receiver = await connectAs('com.test.Receiver', { accessControl: ALL_PUBSUB });
      const got = firstOf<LocalMessage>();
      await receiver.subscribe('edgeshift/test/bin', got.push);
      const bytes = Uint8Array.from([0, 1, 2, 253, 254, 255, 10, 13]);
      await sender.publishBinary('edgeshift/test/bin', bytes);
      const message = await got.value;
      assert.equal(message.kind, 'binary', 'a binary publish arrives as binary');
      assert.deepEqual(message.kind === 'binary' ? [...message.bytes] : [], [...bytes], 'exact bytes');
    });

    it('maps a publish the policy does not allow to ERR_IPC_UNAUTHORIZED', async () => {
      const narrow = {
        'aws.greengrass.ipc.pubsub': {
          'narrow:pubsub:1': {
            policyDescription: 'one topic',
            operations: ['aws.greengrass#PublishToTopic'],
            resources: ['edgeshift/allowed'],
          },
        },
      };
      const ipc = await connectAs('com.test.Narrow', { accessControl: narrow });
      await ipc.publishJson('edgeshift/allowed', { ok: true });
      await rejectsWithCode(
        ipc.publishJson('edgeshift/forbidden', {}),
        'ERR_IPC_UNAUTHORIZED',
        'topic outside policy',
      );
    });
  });

  describe('request/response', () => {
    it('round-trips a body with Uint8Array fields through request() and serve()', async () => {
      const server = await connectAs('com.test.Server', { accessControl: ALL_PUBSUB });
      const client = await connectAs('com.test.Client', { accessControl: ALL_PUBSUB });
      const seen: unknown[] = [];
      await server.serve('edgeshift/test/rpc', (body) => {
        seen.push(body);
        const { data } = body as { data: Uint8Array };
        return { echoed: data, length: data.length, nested: [{ more: Uint8Array.from([9]) }] };
      });
      const data = Uint8Array.from([0, 255, 1, 128]);
      const reply = await client.request('edgeshift/test/rpc', { op: 'echo', data });
      assert.deepEqual(seen, [{ op: 'echo', data }], 'the handler receives the body with bytes decoded');
      assert.deepEqual(
        reply,
        { echoed: data, length: 4, nested: [{ more: Uint8Array.from([9]) }] },
        'the reply body comes back with its bytes as Uint8Array',
      );
    });

    it('rejects with the handler error code when the code is in the catalog', async () => {
      const server = await connectAs('com.test.Server', { accessControl: ALL_PUBSUB });
      const client = await connectAs('com.test.Client', { accessControl: ALL_PUBSUB });
      await server.serve('edgeshift/test/fail', async () => {
        const { EdgeShiftError } = await import('../../../../components/common/errors.ts');
        throw new EdgeShiftError('ERR_CONFIG_INVALID', 'periodMs must be positive');
      });
      await server.serve('edgeshift/test/crash', () => {
        throw new Error('boom');
      });
      const err = await rejectsWithCode(
        client.request('edgeshift/test/fail', {}),
        'ERR_CONFIG_INVALID',
        'coded error',
      );
      assert.equal((err as Error).message, 'periodMs must be positive', 'the remote message is kept');
      await rejectsWithCode(
        client.request('edgeshift/test/crash', {}),
        'ERR_IPC_REMOTE_FAILED',
        'uncoded error',
      );
    });

    it('rejects with ERR_IPC_REQUEST_TIMEOUT when nobody serves the topic', async () => {
      const client = await connectAs('com.test.Client', { accessControl: ALL_PUBSUB });
      await rejectsWithCode(
        client.request('edgeshift/test/nobody', {}, { timeoutMs: 200 }),
        'ERR_IPC_REQUEST_TIMEOUT',
        'no server',
      );
    });

    it('keeps concurrent requests apart by correlation id', async () => {
      const server = await connectAs('com.test.Server', { accessControl: ALL_PUBSUB });
      const client = await connectAs('com.test.Client', { accessControl: ALL_PUBSUB });
      await server.serve('edgeshift/test/square', (body) => (body as { n: number }).n ** 2);
      const replies = await Promise.all(
        [1, 2, 3, 4, 5, 6, 7, 8].map((n) => client.request('edgeshift/test/square', { n })),
      );
      assert.deepEqual(replies, [1, 4, 9, 16, 25, 36, 49, 64], 'each request gets its own reply');
    });
  });

  describe('configuration', () => {
    it('reads, merges and announces configuration changes', async () => {
      const ipc = await connectAs('com.test.Config', { periodMs: 100, nested: { a: 'x' } });
      assert.deepEqual(
        await ipc.getConfiguration(['periodMs']),
        { periodMs: 100 },
        'a leaf comes keyed by its name',
      );
      const updates = firstOf<{ componentName: string; keyPath: readonly string[] }>();
      await ipc.subscribeToConfigurationUpdate(updates.push);
      await ipc.updateConfiguration([], { periodMs: 250 });
      const update = await updates.value;
      assert.equal(update.componentName, 'com.test.Config', 'the update names the component');
      assert.deepEqual(
        await ipc.getConfiguration([]),
        { periodMs: 250, nested: { a: 'x' } },
        'the merge changed only periodMs',
      );
    });

    it('lets the component reject a deployment merge with a reason', async () => {
      const ipc = await connectAs('com.test.Validated', { periodMs: 100 });
      await ipc.subscribeToValidateConfigurationUpdates(async ({ deploymentId, configuration }) => {
        const periodMs = (configuration as { periodMs: number }).periodMs;
        if (periodMs > 0) await ipc.sendConfigurationValidityReport(deploymentId, 'ACCEPTED');
        else await ipc.sendConfigurationValidityReport(deploymentId, 'REJECTED', '/periodMs must be > 0');
      });
      const rejected = await nucleus.mergeConfiguration('com.test.Validated', { periodMs: -1 });
      assert.equal(rejected.accepted, false, 'a negative period is refused');
      assert.match(rejected.reason ?? '', /\/periodMs must be > 0/, 'the reason reaches the deployer');
      assert.deepEqual(
        nucleus.getConfiguration('com.test.Validated'),
        { periodMs: 100 },
        'old configuration kept',
      );
      const accepted = await nucleus.mergeConfiguration('com.test.Validated', { periodMs: 50 });
      assert.equal(accepted.accepted, true, 'a valid merge is accepted');
      assert.deepEqual(await ipc.getConfiguration(['periodMs']), { periodMs: 50 }, 'and applied');
    });
  });

  describe('state and details', () => {
    it('reports RUNNING and ERRORED to the nucleus', async () => {
      const ipc = await connectAs('com.test.Stateful');
      await ipc.updateState('RUNNING');
      assert.equal(nucleus.getState('com.test.Stateful'), 'RUNNING', 'RUNNING reported');
      await ipc.updateState('ERRORED');
      assert.equal(nucleus.getState('com.test.Stateful'), 'ERRORED', 'ERRORED reported');
      const details = await ipc.getComponentDetails('com.test.Stateful');
      assert.deepEqual(
        details,
        { componentName: 'com.test.Stateful', version: '1.0.0', state: 'ERRORED' },
        'details',
      );
    });
  });

  describe('AWS IoT Core through the nucleus', () => {
    it('publishes to and receives from the broker byte for byte', async () => {
      const broker = await Aedes.createBroker();
      const server = createServer(broker.handle);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const brokerUrl = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const cloud = await mqtt.connectAsync(brokerUrl, { protocolVersion: 4 });
      try {
        await nucleus.close();
        nucleus = new LocalNucleus({
          socketPath: path.join(dir, 'iot.socket'),
          thingName: 'thing-1',
          mqttBrokerUrl: brokerUrl,
        });
        await nucleus.start();
        const ipc = await connectAs('com.test.Cloudy', {
          accessControl: {
            'aws.greengrass.ipc.mqttproxy': {
              'com.test.Cloudy:mqttproxy:1': {
                policyDescription: 'commands in, events out',
                operations: ['aws.greengrass#SubscribeToIoTCore', 'aws.greengrass#PublishToIoTCore'],
                resources: ['edgeshift/thing-1/commands/*', 'edgeshift/thing-1/events/*'],
              },
            },
          },
        });
        const command = firstOf<IoTCoreMessage>();
        await ipc.subscribeToIoTCore('edgeshift/thing-1/commands/migrate', command.push);
        await cloud.publishAsync('edgeshift/thing-1/commands/migrate', Buffer.from([1, 2, 0, 255]), {
          qos: 1,
        });
        assert.deepEqual(
          await command.value,
          { topicName: 'edgeshift/thing-1/commands/migrate', payload: Uint8Array.from([1, 2, 0, 255]) },
          'the cloud command arrives with its exact bytes',
        );

        const event = firstOf<{ topic: string; payload: Buffer }>();
        await cloud.subscribeAsync('edgeshift/thing-1/events/#', { qos: 1 });
        cloud.on('message', (topic, payload) => event.push({ topic, payload }));
        await ipc.publishToIoTCore('edgeshift/thing-1/events/done', '{"ok":true}');
        const received = await event.value;
        assert.equal(received.topic, 'edgeshift/thing-1/events/done', 'topic');
        assert.equal(received.payload.toString('utf8'), '{"ok":true}', 'payload');
        await rejectsWithCode(
          ipc.publishToIoTCore('edgeshift/other/events/done', 'x'),
          'ERR_IPC_UNAUTHORIZED',
          'a topic outside the mqttproxy policy',
        );
      } finally {
        await Promise.allSettled(clients.splice(0).map((client) => client.close()));
        await cloud.endAsync();
        await nucleus.close();
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        server.close();
      }
    });
  });

  describe('onDisconnect', () => {
    it('tells the component when the nucleus drops its connection', async () => {
      const ipc = await connectAs('com.test.Dropped');
      const dropped = firstOf<void>();
      ipc.onDisconnect(() => dropped.push());
      nucleus.unregisterComponent('com.test.Dropped'); // closes its connections, as a redeploy would
      await dropped.value;
    });

    it('stays quiet when the component closes the connection itself', async () => {
      const ipc = await connectAs('com.test.Leaving');
      let calls = 0;
      ipc.onDisconnect(() => (calls += 1));
      await ipc.close();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(calls, 0, 'a deliberate close is not a lost connection');
    });
  });

  describe('close', () => {
    it('lets a request being handled finish and reply before the client closes', async () => {
      const server = await connectAs('com.test.Server', { accessControl: ALL_PUBSUB });
      const client = await connectAs('com.test.Client', { accessControl: ALL_PUBSUB });
      const started = firstOf<void>();
      let finish: () => void = () => undefined;
      await server.serve('edgeshift/test/slow', async () => {
        started.push();
        await new Promise<void>((resolve) => (finish = resolve));
        return 'done';
      });
      const reply = client.request('edgeshift/test/slow', {}, { timeoutMs: 20_000 });
      await started.value;
      const closing = server.close();
      finish();
      assert.equal(await reply, 'done', 'the in-flight request is answered during close');
      await closing;
      assert.ok(server.isClosed, 'the server client is closed');
    });

    it('fails pending requests and later calls with ERR_IPC_CLOSED', async () => {
      const server = await connectAs('com.test.Server', { accessControl: ALL_PUBSUB });
      const client = await connectAs('com.test.Client', { accessControl: ALL_PUBSUB });
      const started = firstOf<void>();
      let finish: () => void = () => undefined;
      await server.serve('edgeshift/test/held', async () => {
        started.push();
        await new Promise<void>((resolve) => (finish = resolve));
        return 'too late';
      });
      const pending = client.request('edgeshift/test/held', {}, { timeoutMs: 20_000 });
      await started.value;
      const closing = client.close();
      await rejectsWithCode(pending, 'ERR_IPC_CLOSED', 'pending request at close');
      await closing;
      assert.throws(
        () => client.publishJson('x', {}),
        /after the IPC client was closed/,
        'publish after close',
      );
      await client.close(); // a second close joins the first
      finish();
    });
  });
});
