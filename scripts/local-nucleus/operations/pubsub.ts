// PublishToTopic and SubscribeToTopic of the local nucleus (aws.greengrass.ipc.pubsub), with the nucleus's
// argument checks, error texts and MQTT-style resource authorization. Registered by operations/index.ts; acts on
// LocalPubSub. Invariant: a subscription lives exactly as long as its stream.
import { PUBSUB_SERVICE } from '../authorization.ts';
import { defaultReceiveMode, type LocalMessage, type ReceiveMode } from '../local-pubsub.ts';
import { ModeledIpcError } from '../service-model.ts';
import type { OperationHandler } from './operation-context.ts';

const PUBLISH_TO_TOPIC = 'aws.greengrass#PublishToTopic';
const SUBSCRIBE_TO_TOPIC = 'aws.greengrass#SubscribeToTopic';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalidArguments(message: string): ModeledIpcError {
  return new ModeledIpcError('aws.greengrass#InvalidArgumentsError', message);
}

function parsePublishMessage(value: unknown): LocalMessage {
  if (!isRecord(value)) throw invalidArguments('Publish message must not be null');
  const { jsonMessage, binaryMessage } = value;
  if (isRecord(jsonMessage)) return { kind: 'json', message: jsonMessage.message ?? null };
  if (isRecord(binaryMessage) && typeof binaryMessage.message === 'string') {
    return { kind: 'binary', messageBase64: binaryMessage.message };
  }
  throw invalidArguments('Publish message must set jsonMessage or binaryMessage');
}

function subscriptionEvent(topic: string, message: LocalMessage): object {
  const context = { topic };
  if (message.kind === 'json') return { jsonMessage: { message: message.message, context } };
  return { binaryMessage: { message: message.messageBase64, context } };
}

function parseReceiveMode(value: unknown, topic: string): ReceiveMode {
  if (value === 'RECEIVE_ALL_MESSAGES' || value === 'RECEIVE_MESSAGES_FROM_OTHERS') return value;
  return defaultReceiveMode(topic);
}

export const publishToTopic: OperationHandler = (request, stream, services) => {
  const topic = request.topic;
  if (typeof topic !== 'string') throw invalidArguments('Publish topic must not be null');
  services.authorizer.authorize(PUBSUB_SERVICE, stream.componentName, PUBLISH_TO_TOPIC, topic);
  if (topic.includes('+') || topic.includes('#') || topic.includes('*')) {
    throw invalidArguments('Publish topic must not contain a wildcard.');
  }
  const message = parsePublishMessage(request.publishMessage);
  services.pubsub.publish(stream.componentName, topic, message);
  stream.respond({});
};

export const subscribeToTopic: OperationHandler = (request, stream, services) => {
  const topic = typeof request.topic === 'string' ? request.topic : '';
  services.authorizer.authorize(PUBSUB_SERVICE, stream.componentName, SUBSCRIBE_TO_TOPIC, topic);
  if (topic === '') throw invalidArguments('Subscribe topic must not be empty');
  stream.respond({});
  const unsubscribe = services.pubsub.subscribe({
    componentName: stream.componentName,
    filter: topic,
    receiveMode: parseReceiveMode(request.receiveMode, topic),
    deliver: (publishedTopic, message) => stream.sendEvent(subscriptionEvent(publishedTopic, message)),
  });
  stream.onClose(unsubscribe);
};
