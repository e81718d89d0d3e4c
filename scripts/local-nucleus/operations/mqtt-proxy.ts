// PublishToIoTCore and SubscribeToIoTCore of the local nucleus (aws.greengrass.ipc.mqttproxy), bridged to the
// configured MQTT broker by MqttBridge, with MQTT-style resource authorization as on a device. Registered by
// operations/index.ts. Invariant: a broker subscription made for a stream is released when the stream closes,
// even when the stream closed before the broker acknowledged it.
import { MQTT_PROXY_SERVICE } from '../authorization.ts';
import type { MqttBridge } from '../mqtt-bridge.ts';
import { ModeledIpcError } from '../service-model.ts';
import type { OperationHandler } from './operation-context.ts';

const PUBLISH_TO_IOT_CORE = 'aws.greengrass#PublishToIoTCore';
const SUBSCRIBE_TO_IOT_CORE = 'aws.greengrass#SubscribeToIoTCore';

function bridgeOrFail(bridge: MqttBridge | undefined): MqttBridge {
  if (bridge !== undefined) return bridge;
  throw new ModeledIpcError(
    'aws.greengrass#ServiceError',
    'No MQTT connection: the local nucleus was started without mqttBrokerUrl',
  );
}

function qosOf(value: unknown): 0 | 1 {
  return value === '1' || value === 1 ? 1 : 0;
}

function topicNameOf(value: unknown): string {
  if (typeof value === 'string' && value !== '') return value;
  throw new ModeledIpcError('aws.greengrass#InvalidArgumentsError', 'topicName is required');
}

export const publishToIoTCore: OperationHandler = async (request, stream, services) => {
  const topicName = topicNameOf(request.topicName);
  services.authorizer.authorize(
    MQTT_PROXY_SERVICE,
    stream.componentName,
    PUBLISH_TO_IOT_CORE,
    topicName,
    'mqtt',
  );
  const bridge = bridgeOrFail(services.mqttBridge);
  const payload =
    typeof request.payload === 'string' ? Buffer.from(request.payload, 'base64') : Buffer.alloc(0);
  await bridge.publish(topicName, payload, { qos: qosOf(request.qos), retain: request.retain === true });
  stream.respond({});
};

export const subscribeToIoTCore: OperationHandler = async (request, stream, services) => {
  const topicName = topicNameOf(request.topicName);
  services.authorizer.authorize(
    MQTT_PROXY_SERVICE,
    stream.componentName,
    SUBSCRIBE_TO_IOT_CORE,
    topicName,
    'mqtt',
  );
  const bridge = bridgeOrFail(services.mqttBridge);
  const unsubscribe = await bridge.subscribe(topicName, qosOf(request.qos), (message) => {
    stream.sendEvent({
      message: {
        topicName: message.topic,
        payload: message.payload.toString('base64'),
        retain: message.retain,
      },
    });
  });
  if (!stream.isOpen) {
    unsubscribe();
    return;
  }
  stream.onClose(unsubscribe);
  stream.respond({});
};
