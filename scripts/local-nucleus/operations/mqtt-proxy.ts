// PublishToIoTCore and SubscribeToIoTCore of the local nucleus (aws.greengrass.ipc.mqttproxy), bridged to the
// configured MQTT broker by MqttBridge, with the nucleus's argument checks, error texts and MQTT-style resource
// authorization (MqttProxyIPCAgent). Registered by operations/index.ts. Invariant: a broker subscription made
// for a stream is released when the stream closes, even when it closed before the broker acknowledged it.
import { MQTT_PROXY_SERVICE } from '../authorization.ts';
import type { BridgedMessage, MqttBridge } from '../mqtt-bridge.ts';
import { ModeledIpcError } from '../service-model.ts';
import type { NucleusServices, OperationHandler, OperationStream } from './operation-context.ts';

const PUBLISH_TO_IOT_CORE = 'aws.greengrass#PublishToIoTCore';
const SUBSCRIBE_TO_IOT_CORE = 'aws.greengrass#SubscribeToIoTCore';
/** Payload format "0" (bytes): what the nucleus reports for a message without the MQTT 5 indicator. */
const PAYLOAD_FORMAT_BYTES = '0';

function invalidArguments(message: string): ModeledIpcError {
  return new ModeledIpcError('aws.greengrass#InvalidArgumentsError', message);
}

function topicOf(value: unknown): string {
  if (typeof value !== 'string') throw invalidArguments('Topic is required');
  return value;
}

function payloadOf(value: unknown): Buffer {
  if (typeof value !== 'string') throw invalidArguments('Payload is required');
  return Buffer.from(value, 'base64');
}

function qosOf(value: unknown): 0 | 1 {
  if (value === undefined || value === null) throw invalidArguments('QoS is required');
  if (value === '0' || value === '1') return value === '1' ? 1 : 0;
  throw invalidArguments(`Invalid QoS value: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
}

/** The nucleus logs the detailed refusal and answers the client only "Not Authorized". */
function authorize(
  services: NucleusServices,
  stream: OperationStream,
  operation: string,
  topic: string,
): void {
  if (services.authorizer.isAllowed(MQTT_PROXY_SERVICE, stream.componentName, operation, topic)) return;
  throw new ModeledIpcError('aws.greengrass#UnauthorizedError', 'Not Authorized');
}

function connectedBridge(bridge: MqttBridge | undefined, failure: string): MqttBridge {
  if (bridge !== undefined) return bridge;
  throw new ModeledIpcError(
    'aws.greengrass#ServiceError',
    `${failure} no MQTT broker (the local nucleus was started without mqttBrokerUrl)`,
  );
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function iotCoreMessage(message: BridgedMessage): object {
  return {
    message: {
      topicName: message.topic,
      payload: message.payload.toString('base64'),
      retain: message.retain,
      payloadFormat: PAYLOAD_FORMAT_BYTES,
    },
  };
}

export const publishToIoTCore: OperationHandler = async (request, stream, services) => {
  const topic = topicOf(request.topicName);
  authorize(services, stream, PUBLISH_TO_IOT_CORE, topic);
  const payload = payloadOf(request.payload);
  const qos = qosOf(request.qos);
  const failure = `Publish to topic ${topic} failed:`;
  const bridge = connectedBridge(services.mqttBridge, failure);
  try {
    await bridge.publish(topic, payload, { qos, retain: request.retain === true });
  } catch (error) {
    throw new ModeledIpcError('aws.greengrass#ServiceError', `${failure} ${errorText(error)}`);
  }
  stream.respond({});
};

export const subscribeToIoTCore: OperationHandler = async (request, stream, services) => {
  const topic = topicOf(request.topicName);
  authorize(services, stream, SUBSCRIBE_TO_IOT_CORE, topic);
  const qos = qosOf(request.qos);
  const failure = `Subscribe to topic ${topic} failed with error`;
  const bridge = connectedBridge(services.mqttBridge, failure);
  let unsubscribe: () => void;
  try {
    unsubscribe = await bridge.subscribe(topic, qos, (message) => stream.sendEvent(iotCoreMessage(message)));
  } catch (error) {
    throw new ModeledIpcError('aws.greengrass#ServiceError', `${failure} ${errorText(error)}`);
  }
  if (!stream.isOpen) {
    unsubscribe();
    return;
  }
  stream.onClose(unsubscribe);
  stream.respond({});
};
