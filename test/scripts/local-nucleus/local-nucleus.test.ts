import assert from 'node:assert/strict';

import { greengrasscoreipc } from 'aws-iot-device-sdk-v2';

import { hasErrorCode } from '../../../components/common/errors.ts';
import { activateStream } from '../../../components/common/ipc/ipc-client.ts';
import { LocalNucleus, type ComponentStateEvent } from '../../../scripts/local-nucleus/local-nucleus.ts';
import { eventually, pubsubPolicy, startNucleus, type NucleusFixture } from './nucleus-fixture.ts';

type Client = greengrasscoreipc.Client;

function serviceErrorOf(error: unknown): { message: string } {
  const serviceError = (error as { serviceError?: { message?: unknown } }).serviceError;
  assert.ok(serviceError !== undefined, `expected a modeled service error, got ${String(error)}`);
  return { message: String(serviceError.message) };
}

async function rejection(promise: Promise<unknown>): Promise<{ message: string }> {
  try {
    await promise;
  } catch (error) {
    return serviceErrorOf(error);
  }
  assert.fail('expected the operation to be refused');
}

/**
 * The refusal of a subscription, asked again when the SDK lost its reason (activateStream): what is
 * under test is the nucleus's answer, not that race.
 */
async function refusedSubscription(client: Client, topic: string): Promise<{ message: string }> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await activateStream(client.subscribeToTopic({ topic }), 'SubscribeToTopic');
    } catch (error) {
      if (hasErrorCode(error, 'ERR_IPC_OPERATION_FAILED') && attempt < 3) continue;
      return serviceErrorOf(error);
    }
    assert.fail('expected the subscription to be refused');
  }
}

describe('local-nucleus', function () {
  this.timeout(30_000);
  let fixture: NucleusFixture;

  beforeEach(async () => {
    fixture = await startNucleus({ configurationValidationTimeoutMs: 500 });
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  describe('constructor', () => {
    it('names the bad option with ERR_NUCLEUS_OPTIONS_INVALID', () => {
      assert.throws(
        () => new LocalNucleus({ socketPath: '/tmp/x.socket', thingName: 't', maxFrameBytes: -1 }),
        {
          code: 'ERR_NUCLEUS_OPTIONS_INVALID',
          message: 'maxFrameBytes must be a positive number, instead got -1',
        },
      );
      assert.throws(() => new LocalNucleus({ socketPath: '', thingName: 't' }), {
        code: 'ERR_NUCLEUS_OPTIONS_INVALID',
      });
    });
  });

  describe('connect', () => {
    it('accepts a registered SVCUID and refuses an unknown one', async () => {
      const token = fixture.register('com.example.A');
      await fixture.client(token);
      await assert.rejects(fixture.client('not-a-token'), 'an unknown token must not connect');
      await eventually(() => fixture.nucleus.connectionCount === 1, 'the refused connection must be closed');
    });

    it('serves a client made by createClient() from the environment a component runs with', async () => {
      const token = fixture.register('com.example.Env');
      const saved = {
        socket: process.env.AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT,
        svcuid: process.env.SVCUID,
      };
      process.env.AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT = fixture.nucleus.socketPath;
      process.env.SVCUID = token;
      const client = greengrasscoreipc.createClient();
      try {
        await client.connect();
        await client.updateState({ state: greengrasscoreipc.model.ReportedLifecycleState.RUNNING });
        assert.equal(
          fixture.nucleus.getState('com.example.Env'),
          'RUNNING',
          'the env-configured client is served',
        );
      } finally {
        await client.close();
        if (saved.socket === undefined)
          delete process.env.AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT;
        else process.env.AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT = saved.socket;
        if (saved.svcuid === undefined) delete process.env.SVCUID;
        else process.env.SVCUID = saved.svcuid;
      }
    });
  });

  describe('pub/sub', () => {
    let publisher: Client;
    let subscriber: Client;

    beforeEach(async () => {
      const policy = { accessControl: pubsubPolicy(['*'], ['sensors/*']) };
      publisher = await fixture.client(fixture.register('com.example.Publisher', policy));
      subscriber = await fixture.client(fixture.register('com.example.Subscriber', policy));
    });

    it('delivers JSON and binary messages to a wildcard subscriber with their topic', async () => {
      const received: greengrasscoreipc.model.SubscriptionResponseMessage[] = [];
      const operation = subscriber.subscribeToTopic({ topic: 'sensors/+' });
      operation.on('message', (message) => received.push(message));
      await operation.activate();
      await publisher.publishToTopic({
        topic: 'sensors/a',
        publishMessage: { jsonMessage: { message: { v: 1 } } },
      });
      await publisher.publishToTopic({
        topic: 'sensors/b',
        publishMessage: { binaryMessage: { message: new Uint8Array([0, 1, 255]) } },
      });
      await eventually(() => received.length === 2, 'both messages must arrive');
      assert.deepEqual(received[0]?.jsonMessage?.message, { v: 1 }, 'JSON body must arrive unchanged');
      assert.equal(received[0]?.jsonMessage?.context?.topic, 'sensors/a', 'context carries the topic');
      assert.deepEqual(
        [...new Uint8Array(received[1]?.binaryMessage?.message as ArrayBuffer)],
        [0, 1, 255],
        'binary bytes must arrive unchanged',
      );
    });

    it('does not echo a component its own messages on a wildcard filter unless RECEIVE_ALL_MESSAGES', async () => {
      const defaultMode: unknown[] = [];
      const receiveAll: unknown[] = [];
      const first = publisher.subscribeToTopic({ topic: 'sensors/#' });
      first.on('message', (message) => defaultMode.push(message));
      await first.activate();
      const second = publisher.subscribeToTopic({
        topic: 'sensors/#',
        receiveMode: greengrasscoreipc.model.ReceiveMode.RECEIVE_ALL_MESSAGES,
      });
      second.on('message', (message) => receiveAll.push(message));
      await second.activate();
      await publisher.publishToTopic({
        topic: 'sensors/x',
        publishMessage: { jsonMessage: { message: {} } },
      });
      await eventually(() => receiveAll.length === 1, 'RECEIVE_ALL_MESSAGES must receive its own message');
      assert.equal(defaultMode.length, 0, 'the default mode for wildcard filters must skip own messages');
    });

    it('refuses a publish outside the policy with the nucleus UnauthorizedError text', async () => {
      const { message } = await rejection(
        publisher.publishToTopic({ topic: 'other/topic', publishMessage: { jsonMessage: { message: {} } } }),
      );
      assert.equal(
        message,
        'Principal com.example.Publisher is not authorized to perform ' +
          'aws.greengrass.ipc.pubsub:aws.greengrass#PublishToTopic on resource other/topic',
      );
    });

    it('refuses a publish to a wildcard topic with InvalidArgumentsError, which the SDK model does not list', async () => {
      // The nucleus throws InvalidArgumentsError here although PublishToTopic's model names only ServiceError and
      // UnauthorizedError, so the real client reports an unexpected shape; the local nucleus must do the same.
      await assert.rejects(
        publisher.publishToTopic({ topic: 'sensors/*', publishMessage: { jsonMessage: { message: {} } } }),
        /Unexpected response shape received: 'aws\.greengrass#InvalidArgumentsError'/,
      );
    });

    it('refuses a subscription for a component without any policy', async () => {
      const stranger = await fixture.client(fixture.register('com.example.Stranger'));
      const { message } = await refusedSubscription(stranger, 'sensors/a');
      assert.match(
        message,
        /Principal com\.example\.Stranger is not authorized/,
        'no policy means no access',
      );
    });

    it('removes the subscriptions of a client that closes its stream', async () => {
      const operation = subscriber.subscribeToTopic({ topic: 'sensors/a' });
      await operation.activate();
      assert.equal(fixture.nucleus.localSubscriptionCount, 1, 'one subscription while the stream is open');
      await operation.close();
      await eventually(
        () => fixture.nucleus.localSubscriptionCount === 0,
        'closing the stream must unsubscribe',
      );
    });
  });

  describe('configuration', () => {
    let client: Client;

    beforeEach(async () => {
      const configuration = { limits: { cpuPercent: 80, names: ['a'] }, mode: 'fast' };
      client = await fixture.client(fixture.register('com.example.Config', configuration));
    });

    it('returns the whole configuration, and a leaf wrapped under its key', async () => {
      const whole = await client.getConfiguration({ keyPath: [] });
      assert.deepEqual(whole, {
        componentName: 'com.example.Config',
        value: { limits: { cpuPercent: 80, names: ['a'] }, mode: 'fast' },
      });
      const leaf = await client.getConfiguration({ keyPath: ['limits', 'cpuPercent'] });
      assert.deepEqual(leaf.value, { cpuPercent: 80 }, 'a leaf comes back as {key: value}');
    });

    it('answers a missing key with ResourceNotFoundError "Key not found"', async () => {
      const { message } = await rejection(client.getConfiguration({ keyPath: ['nope'] }));
      assert.equal(message, 'Key not found');
    });

    it('merges an update and notifies subscribers with the changed key path', async () => {
      const events: greengrasscoreipc.model.ConfigurationUpdateEvents[] = [];
      const operation = client.subscribeToConfigurationUpdate({ keyPath: ['limits'] });
      operation.on('message', (event) => events.push(event));
      await operation.activate();
      await client.updateConfiguration({
        keyPath: ['limits'],
        valueToMerge: { cpuPercent: 90 },
        timestamp: new Date(),
      });
      await eventually(() => events.length === 1, 'one leaf changed, one event');
      assert.deepEqual(events[0], {
        configurationUpdateEvent: { componentName: 'com.example.Config', keyPath: ['limits', 'cpuPercent'] },
      });
      assert.deepEqual(fixture.nucleus.getConfiguration('com.example.Config').limits, {
        cpuPercent: 90,
        names: ['a'],
      });
    });

    it('refuses an update older than the value it would overwrite', async () => {
      await client.updateConfiguration({
        keyPath: [],
        valueToMerge: { mode: 'slow' },
        timestamp: new Date(),
      });
      const { message } = await rejection(
        client.updateConfiguration({ keyPath: [], valueToMerge: { mode: 'old' }, timestamp: new Date(1000) }),
      );
      assert.equal(message, "Proposed timestamp is older than the config's latest modified timestamp");
      assert.equal(fixture.nucleus.getConfiguration('com.example.Config').mode, 'slow', 'old value kept');
    });

    it('refuses an update of accessControl', async () => {
      const { message } = await rejection(
        client.updateConfiguration({ valueToMerge: { accessControl: {} }, timestamp: new Date() }),
      );
      assert.equal(message, 'Config update is not allowed for following fields [accessControl]');
    });

    it('lets a validator reject a deployment merge, keeping the old configuration', async () => {
      const validator = client.subscribeToValidateConfigurationUpdates({});
      validator.on('message', (event) => {
        const deploymentId = event.validateConfigurationUpdateEvent?.deploymentId ?? '';
        const cpu = (
          event.validateConfigurationUpdateEvent?.configuration as { limits: { cpuPercent: number } }
        ).limits.cpuPercent;
        const status = cpu > 100 ? 'REJECTED' : 'ACCEPTED';
        void client.sendConfigurationValidityReport({
          configurationValidityReport: {
            deploymentId,
            status: greengrasscoreipc.model.ConfigurationValidityStatus[status],
            message: `/limits/cpuPercent ${cpu} is above 100`,
          },
        });
      });
      await validator.activate();
      const rejected = await fixture.nucleus.mergeConfiguration('com.example.Config', {
        limits: { cpuPercent: 150 },
      });
      assert.deepEqual(rejected, { accepted: false, reason: '/limits/cpuPercent 150 is above 100' });
      assert.deepEqual(
        fixture.nucleus.getConfiguration('com.example.Config').limits,
        { cpuPercent: 80, names: ['a'] },
        'a rejected merge must leave the configuration as it was',
      );
      const accepted = await fixture.nucleus.mergeConfiguration('com.example.Config', {
        limits: { cpuPercent: 60 },
      });
      assert.deepEqual(accepted, { accepted: true });
      assert.equal(
        (fixture.nucleus.getConfiguration('com.example.Config').limits as { cpuPercent: number }).cpuPercent,
        60,
      );
    });

    it('refuses a validity report nobody asked for', async () => {
      const { message } = await rejection(
        client.sendConfigurationValidityReport({
          configurationValidityReport: {
            deploymentId: 'never-made',
            status: greengrasscoreipc.model.ConfigurationValidityStatus.ACCEPTED,
          },
        }),
      );
      assert.equal(message, 'Validation request either timed out or was never made');
    });

    it("notifies a subscriber of another component's configuration changes", async () => {
      const reader = await fixture.client(fixture.register('com.example.Reader'));
      const events: greengrasscoreipc.model.ConfigurationUpdateEvents[] = [];
      const operation = reader.subscribeToConfigurationUpdate({
        componentName: 'com.example.Config',
        keyPath: [],
      });
      operation.on('message', (event) => events.push(event));
      await operation.activate();
      const result = await fixture.nucleus.mergeConfiguration('com.example.Config', { mode: 'eco' });
      assert.deepEqual(result, { accepted: true });
      await eventually(() => events.length === 1, 'the change must be announced to the reader');
      assert.deepEqual(events[0]?.configurationUpdateEvent, {
        componentName: 'com.example.Config',
        keyPath: ['mode'],
      });
    });

    it('accepts a deployment merge when the validator does not answer before the timeout', async () => {
      await client.subscribeToValidateConfigurationUpdates({}).activate();
      const result = await fixture.nucleus.mergeConfiguration('com.example.Config', { mode: 'quiet' }, [
        '/limits',
      ]);
      assert.deepEqual(result, { accepted: true }, 'no report within the timeout means accepted');
      assert.deepEqual(fixture.nucleus.getConfiguration('com.example.Config'), {
        limits: { cpuPercent: 80, names: ['a'] },
        mode: 'quiet',
      });
    });
  });

  describe('lifecycle', () => {
    it('records UpdateState and emits component-state', async () => {
      const client = await fixture.client(fixture.register('com.example.Life'));
      const events: ComponentStateEvent[] = [];
      fixture.nucleus.on('component-state', (event) => events.push(event));
      await client.updateState({ state: greengrasscoreipc.model.ReportedLifecycleState.RUNNING });
      assert.equal(fixture.nucleus.getState('com.example.Life'), 'RUNNING');
      assert.deepEqual(events, [{ name: 'com.example.Life', state: 'RUNNING' }]);
    });

    it('answers GetComponentDetails, and ResourceNotFoundError for an unknown component', async () => {
      const client = await fixture.client(fixture.register('com.example.Life'));
      fixture.nucleus.setState('com.example.Life', 'RUNNING');
      const details = await client.getComponentDetails({ componentName: 'com.example.Life' });
      assert.deepEqual(details, {
        componentDetails: { componentName: 'com.example.Life', version: '1.0.0', state: 'RUNNING' },
      });
      const { message } = await rejection(client.getComponentDetails({ componentName: 'com.example.Nope' }));
      assert.equal(message, 'Component with name com.example.Nope not found in Greengrass');
    });

    it('answers a model operation no component provides with an empty response, as the nucleus does', async () => {
      const client = await fixture.client(fixture.register('com.example.Life'));
      assert.deepEqual(await client.listComponents({}), {}, 'ListComponents without the CLI answers {}');
    });

    it('closes the connections of an unregistered component', async () => {
      await fixture.client(fixture.register('com.example.Gone'));
      assert.equal(fixture.nucleus.connectionCount, 1);
      fixture.nucleus.unregisterComponent('com.example.Gone');
      await eventually(() => fixture.nucleus.connectionCount === 0, 'its connection must be closed');
    });
  });
});
