// Bridge from the local nucleus's mqttproxy IPC service (PublishToIoTCore / SubscribeToIoTCore) to a real MQTT
// broker, standing in for the nucleus's connection to AWS IoT Core. Used by local-nucleus.ts and
// operations/mqtt-proxy.ts; talks to the broker with the `mqtt` client. Invariant: one broker subscription per
// distinct filter, held while at least one IPC subscriber uses it; every broker message reaches each matching
// IPC subscriber once.
import mqtt, { type IClientPublishOptions, type MqttClient } from 'mqtt';

import { EdgeShiftError } from '../../components/common/errors.ts';
import { createLogger } from '../../components/common/logger.ts';
import { mqttFilterMatches } from './topic-matching.ts';

const log = createLogger('local-nucleus:mqtt-bridge');

export interface BridgedMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly retain: boolean;
}

interface BridgeSubscriber {
  readonly filter: string;
  readonly deliver: (message: BridgedMessage) => void;
}

export class MqttBridge {
  private client: MqttClient | undefined;
  private readonly subscribers = new Set<BridgeSubscriber>();
  private readonly filterUsers = new Map<string, number>();

  constructor(
    private readonly brokerUrl: string,
    private readonly clientId: string,
  ) {}

  async start(): Promise<void> {
    try {
      // No retries for the first connection, so a wrong URL fails start() instead of hanging it; once
      // connected, the client reconnects on its own and queues publishes meanwhile.
      const options = { clientId: this.clientId, reconnectPeriod: 1000 };
      this.client = await mqtt.connectAsync(this.brokerUrl, options, false);
    } catch (cause) {
      throw new EdgeShiftError(
        'ERR_NUCLEUS_MQTT_BRIDGE',
        `cannot connect to the MQTT broker at ${this.brokerUrl}: ${String(cause)}; check mqttBrokerUrl`,
        { cause },
      );
    }
    this.client.on('message', (topic, payload, packet) => {
      this.dispatch({ topic, payload, retain: packet.retain });
    });
    this.client.on('error', (error) => log.warn('MQTT broker connection error', { error }));
  }

  async publish(topic: string, payload: Buffer, options: IClientPublishOptions): Promise<void> {
    await this.connected().publishAsync(topic, payload, options);
  }

  /** Subscribes an IPC stream; the returned function undoes it (and the broker subscription when last). */
  async subscribe(
    filter: string,
    qos: 0 | 1,
    deliver: (message: BridgedMessage) => void,
  ): Promise<() => void> {
    const client = this.connected();
    const users = this.filterUsers.get(filter) ?? 0;
    this.filterUsers.set(filter, users + 1);
    const subscriber: BridgeSubscriber = { filter, deliver };
    this.subscribers.add(subscriber);
    if (users === 0) {
      try {
        await client.subscribeAsync(filter, { qos });
      } catch (cause) {
        this.release(subscriber);
        throw new EdgeShiftError('ERR_NUCLEUS_MQTT_BRIDGE', `broker refused subscription to ${filter}`, {
          cause,
        });
      }
    }
    return () => this.release(subscriber);
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.subscribers.clear();
    this.filterUsers.clear();
    if (client !== undefined) await client.endAsync(true);
  }

  private release(subscriber: BridgeSubscriber): void {
    if (!this.subscribers.delete(subscriber)) return;
    const users = (this.filterUsers.get(subscriber.filter) ?? 1) - 1;
    if (users > 0) {
      this.filterUsers.set(subscriber.filter, users);
      return;
    }
    this.filterUsers.delete(subscriber.filter);
    this.client?.unsubscribeAsync(subscriber.filter).catch((error: unknown) => {
      log.warn('broker unsubscribe failed', { filter: subscriber.filter, error });
    });
  }

  private dispatch(message: BridgedMessage): void {
    for (const subscriber of [...this.subscribers]) {
      if (mqttFilterMatches(subscriber.filter, message.topic)) subscriber.deliver(message);
    }
  }

  private connected(): MqttClient {
    if (this.client === undefined) {
      throw new EdgeShiftError(
        'ERR_NUCLEUS_MQTT_BRIDGE',
        'the MQTT bridge is not connected; call start() first',
      );
    }
    return this.client;
  }
}
