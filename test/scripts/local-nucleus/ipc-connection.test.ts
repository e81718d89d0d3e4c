import assert from 'node:assert/strict';
import { connect } from 'node:net';

import type { greengrasscoreipc } from 'aws-iot-device-sdk-v2';

import {
  encodeFrame,
  MessageFlags,
  MessageType,
  type RpcFrame,
} from '../../../scripts/local-nucleus/eventstream-framing.ts';
import {
  eventually,
  pubsubPolicy,
  RawEventstreamClient,
  startNucleus,
  type NucleusFixture,
} from './nucleus-fixture.ts';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

function connectFrame(authToken: string, version = '0.1.0'): RpcFrame {
  return {
    type: MessageType.Connect,
    flags: 0,
    streamId: 0,
    headers: { ':version': version },
    payload: textEncoder.encode(JSON.stringify({ authToken })),
  };
}

function requestFrame(streamId: number, operation: string, body: object): RpcFrame {
  return {
    type: MessageType.ApplicationMessage,
    flags: 0,
    streamId,
    headers: { operation },
    payload: textEncoder.encode(JSON.stringify(body)),
  };
}

describe('ipc-connection', function () {
  this.timeout(60_000);
  let fixture: NucleusFixture;
  let token: string;
  let healthy: greengrasscoreipc.Client;

  beforeEach(async () => {
    fixture = await startNucleus();
    token = fixture.register('com.example.Raw', { accessControl: pubsubPolicy(['*'], ['allowed/*']) });
    healthy = await fixture.client(
      fixture.register('com.example.Healthy', { accessControl: pubsubPolicy(['*'], ['*']) }),
    );
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  async function assertHealthyStillServed(): Promise<void> {
    const response = await healthy.publishToTopic({
      topic: 'ok',
      publishMessage: { jsonMessage: { message: {} } },
    });
    assert.deepEqual(response, {}, 'the server must keep serving other connections');
  }

  async function connectedRaw(): Promise<RawEventstreamClient> {
    const raw = await RawEventstreamClient.connect(fixture.nucleus.socketPath);
    raw.send(connectFrame(token));
    const ack = await raw.nextFrame();
    assert.equal(ack.type, MessageType.ConnectAck, 'Connect is answered with ConnectAck');
    assert.equal(ack.flags, MessageFlags.ConnectionAccepted, 'a registered SVCUID is accepted');
    return raw;
  }

  describe('handshake', () => {
    it('answers an unknown token with ConnectAck without ConnectionAccepted, then closes', async () => {
      const raw = await RawEventstreamClient.connect(fixture.nucleus.socketPath);
      raw.send(connectFrame('wrong-token'));
      const ack = await raw.nextFrame();
      assert.deepEqual(
        [ack.type, ack.flags],
        [MessageType.ConnectAck, 0],
        'refused ack has no accepted flag',
      );
      await raw.closed;
    });

    it('refuses a Connect with another protocol version', async () => {
      const raw = await RawEventstreamClient.connect(fixture.nucleus.socketPath);
      raw.send(connectFrame(token, '0.2.0'));
      const ack = await raw.nextFrame();
      assert.equal(ack.flags, 0, 'a version mismatch is refused like a bad token');
      await raw.closed;
    });

    it('answers an application message before Connect with a ProtocolError and closes', async () => {
      const raw = await RawEventstreamClient.connect(fixture.nucleus.socketPath);
      raw.send(requestFrame(1, 'aws.greengrass#PublishToTopic', {}));
      const frame = await raw.nextFrame();
      assert.equal(frame.type, MessageType.ProtocolError);
      await raw.closed;
    });

    it('echoes a Ping as PingResponse with its payload and non-colon headers', async () => {
      const raw = await connectedRaw();
      raw.send({
        type: MessageType.Ping,
        flags: 0,
        streamId: 0,
        headers: { note: 'hi' },
        payload: textEncoder.encode('abc'),
      });
      const pong = await raw.nextFrame();
      assert.equal(pong.type, MessageType.PingResponse);
      assert.deepEqual(pong.headers, { note: 'hi' });
      assert.equal(textDecoder.decode(pong.payload), 'abc');
      raw.destroy();
    });
  });

  describe('operations on the wire', () => {
    it('sends the exact Unsupported Operation error for a name outside the model', async () => {
      const raw = await connectedRaw();
      raw.send(requestFrame(1, 'aws.greengrass#NoSuchOperation', {}));
      const error = await raw.nextFrame();
      assert.deepEqual(
        { type: error.type, flags: error.flags, streamId: error.streamId, headers: error.headers },
        {
          type: MessageType.ApplicationError,
          flags: MessageFlags.TerminateStream,
          streamId: 1,
          headers: { ':content-type': 'application/json' },
        },
      );
      assert.equal(
        textDecoder.decode(error.payload),
        '{ "error": "Unsupported Operation", "message": "aws.greengrass#NoSuchOperation is an unsupported operation." }',
      );
      raw.destroy();
    });

    it('sends UnauthorizedError with its service-model-type and a TerminateStream flag', async () => {
      const raw = await connectedRaw();
      raw.send(
        requestFrame(1, 'aws.greengrass#PublishToTopic', {
          topic: 'denied',
          publishMessage: { jsonMessage: { message: {} } },
        }),
      );
      const error = await raw.nextFrame();
      assert.equal(error.type, MessageType.ApplicationError);
      assert.equal(error.flags, MessageFlags.TerminateStream);
      assert.deepEqual(error.headers, {
        ':content-type': 'application/json',
        'service-model-type': 'aws.greengrass#UnauthorizedError',
      });
      assert.deepEqual(JSON.parse(textDecoder.decode(error.payload)), {
        message:
          'Principal com.example.Raw is not authorized to perform aws.greengrass.ipc.pubsub:aws.greengrass#PublishToTopic on resource denied',
      });
      raw.destroy();
    });

    it('answers a unary request with TerminateStream and a subscription without it', async () => {
      const raw = await connectedRaw();
      raw.send(requestFrame(1, 'aws.greengrass#SubscribeToTopic', { topic: 'allowed/x' }));
      const subscribed = await raw.nextFrame();
      assert.deepEqual(
        [subscribed.flags, subscribed.headers['service-model-type']],
        [0, 'aws.greengrass#SubscribeToTopicResponse'],
      );
      raw.send(
        requestFrame(2, 'aws.greengrass#PublishToTopic', {
          topic: 'allowed/x',
          publishMessage: { jsonMessage: { message: { n: 1 } } },
        }),
      );
      const frames = [await raw.nextFrame(), await raw.nextFrame()];
      const event = frames.find((frame) => frame.streamId === 1);
      const response = frames.find((frame) => frame.streamId === 2);
      assert.deepEqual(
        [response?.flags, response?.headers['service-model-type']],
        [MessageFlags.TerminateStream, 'aws.greengrass#PublishToTopicResponse'],
      );
      assert.equal(event?.headers['service-model-type'], 'aws.greengrass#SubscriptionResponseMessage');
      assert.deepEqual(JSON.parse(textDecoder.decode(event?.payload)), {
        jsonMessage: { message: { n: 1 }, context: { topic: 'allowed/x' } },
      });
      raw.destroy();
    });
  });

  describe('request edge cases', () => {
    it('does not run a request whose first message already terminates its stream', async () => {
      const raw = await connectedRaw();
      raw.send({
        ...requestFrame(1, 'aws.greengrass#SubscribeToTopic', { topic: 'allowed/z' }),
        flags: MessageFlags.TerminateStream,
      });
      raw.send({ type: MessageType.Ping, flags: 0, streamId: 0, headers: {}, payload: new Uint8Array(0) });
      const next = await raw.nextFrame();
      assert.equal(next.type, MessageType.PingResponse, 'no response frame precedes the ping answer');
      assert.equal(fixture.nucleus.localSubscriptionCount, 0, 'the subscription was never made');
      raw.destroy();
    });

    it('answers a request body that is not JSON with the plain-text InternalServerError', async () => {
      const raw = await connectedRaw();
      raw.send({
        ...requestFrame(1, 'aws.greengrass#PublishToTopic', {}),
        payload: textEncoder.encode('{nope'),
      });
      const error = await raw.nextFrame();
      assert.deepEqual(
        [error.type, error.flags, error.headers[':content-type'], textDecoder.decode(error.payload)],
        [MessageType.ApplicationError, MessageFlags.TerminateStream, 'text/plain', 'InternalServerError'],
      );
      raw.destroy();
    });

    it('answers UpdateState with a state other than RUNNING or ERRORED with InternalServerError', async () => {
      const raw = await connectedRaw();
      raw.send(requestFrame(1, 'aws.greengrass#UpdateState', { state: 'FINISHED' }));
      const error = await raw.nextFrame();
      assert.deepEqual(
        [error.type, error.headers[':content-type'], textDecoder.decode(error.payload)],
        [MessageType.ApplicationError, 'text/plain', 'InternalServerError'],
        'the nucleus does not translate this failure into a modeled error',
      );
      assert.equal(fixture.nucleus.getState('com.example.Raw'), 'NEW', 'the state is unchanged');
      raw.destroy();
    });

    it('answers a second Connect on the same connection with an error frame and closes', async () => {
      const raw = await connectedRaw();
      raw.send(connectFrame(token));
      const error = await raw.nextFrame();
      assert.equal(error.type, MessageType.InternalError, 'the nucleus sends ServerError (type 7)');
      await raw.closed;
    });
  });

  describe('malformed input', () => {
    it('closes a connection whose frame has a bad CRC and keeps serving others', async () => {
      const raw = await RawEventstreamClient.connect(fixture.nucleus.socketPath);
      const bytes = Buffer.from(encodeFrame(connectFrame(token)));
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 6) ^ 0xff, bytes.length - 6);
      raw.sendBytes(bytes);
      await raw.closed;
      assert.equal(raw.frames.length, 0, 'no answer to a corrupted frame');
      await assertHealthyStillServed();
    });

    it('closes a connection after a truncated frame runs into the next one', async () => {
      const raw = await connectedRaw();
      const ping = encodeFrame({
        type: MessageType.Ping,
        flags: 0,
        streamId: 0,
        headers: {},
        payload: new Uint8Array(8),
      });
      raw.sendBytes(ping.subarray(0, ping.length - 4));
      raw.sendBytes(ping);
      await raw.closed;
      await assertHealthyStillServed();
    });

    it('closes a connection announcing an oversized frame without waiting for its body', async () => {
      const raw = await connectedRaw();
      const prefix = Buffer.alloc(12);
      prefix.writeUInt32BE(64 * 1024 * 1024, 0);
      raw.sendBytes(prefix);
      await raw.closed;
      await assertHealthyStillServed();
    });
  });

  describe('clean-up', () => {
    it('removes the subscriptions of a client that vanishes mid-stream', async () => {
      const raw = await connectedRaw();
      raw.send(requestFrame(1, 'aws.greengrass#SubscribeToTopic', { topic: 'allowed/y' }));
      await raw.nextFrame();
      assert.equal(fixture.nucleus.localSubscriptionCount, 1, 'subscribed');
      raw.destroy();
      await eventually(
        () => fixture.nucleus.localSubscriptionCount === 0,
        'the subscription must be removed',
      );
      await eventually(() => fixture.nucleus.connectionCount === 1, 'only the healthy connection remains');
    });
  });

  describe('close', () => {
    it('does not wait for a refused peer that never hangs up', async () => {
      const stubborn = connect({ path: fixture.nucleus.socketPath, allowHalfOpen: true });
      await new Promise<void>((resolve) => stubborn.once('connect', () => resolve()));
      const ended = new Promise<void>((resolve) => stubborn.once('end', () => resolve()));
      stubborn.on('data', () => undefined);
      stubborn.on('error', () => undefined);
      stubborn.write(encodeFrame(connectFrame('wrong-token')));
      await ended;
      await fixture.nucleus.close();
      assert.equal(fixture.nucleus.connectionCount, 0, 'close() returned with no connection left');
      stubborn.destroy();
    });
  });

  describe('concurrency', () => {
    it('serves 100 concurrent SDK clients, each publishing to a subscriber', async () => {
      const received = new Set<string>();
      const subscription = healthy.subscribeToTopic({ topic: 'fanout/+' });
      subscription.on('message', (message) => received.add(message.jsonMessage?.context?.topic ?? ''));
      await subscription.activate();
      const policy = { accessControl: pubsubPolicy(['aws.greengrass#PublishToTopic'], ['fanout/*']) };
      const clients = await Promise.all(
        Array.from({ length: 100 }, (_, index) =>
          fixture.client(fixture.register(`com.example.Many${index}`, policy)),
        ),
      );
      await Promise.all(
        clients.map((client, index) =>
          client.publishToTopic({
            topic: `fanout/${index}`,
            publishMessage: { jsonMessage: { message: { index } } },
          }),
        ),
      );
      await eventually(
        () => received.size === 100,
        `all 100 messages must arrive, got ${received.size}`,
        30_000,
      );
      assert.equal(fixture.nucleus.connectionCount, 101, 'every client keeps its own connection');
    });
  });
});
