// Local publish/subscribe of the local nucleus (the aws.greengrass.ipc.pubsub service): subscriptions by MQTT
// topic filter with a receive mode, and fan-out of JSON or binary messages. Used by operations/pubsub.ts.
// Invariant: a message goes to each matching subscription once, never back to its publisher when that
// subscription is RECEIVE_MESSAGES_FROM_OTHERS (the default for wildcard filters, as in the nucleus).
import { hasMqttWildcard, mqttFilterMatches } from './topic-matching.ts';

export type ReceiveMode = 'RECEIVE_ALL_MESSAGES' | 'RECEIVE_MESSAGES_FROM_OTHERS';

/** The published message as it travels on the wire (jsonMessage or binaryMessage, base64 for binary). */
export type LocalMessage =
  | { readonly kind: 'json'; readonly message: unknown }
  | { readonly kind: 'binary'; readonly messageBase64: string };

export interface LocalSubscription {
  readonly componentName: string;
  readonly filter: string;
  readonly receiveMode: ReceiveMode;
  readonly deliver: (topic: string, message: LocalMessage) => void;
}

/** The nucleus's default: wildcard filters do not receive their own component's messages. */
export function defaultReceiveMode(filter: string): ReceiveMode {
  return hasMqttWildcard(filter) ? 'RECEIVE_MESSAGES_FROM_OTHERS' : 'RECEIVE_ALL_MESSAGES';
}

export class LocalPubSub {
  private readonly subscriptions = new Set<LocalSubscription>();

  subscribe(subscription: LocalSubscription): () => void {
    this.subscriptions.add(subscription);
    return () => {
      this.subscriptions.delete(subscription);
    };
  }

  get subscriptionCount(): number {
    return this.subscriptions.size;
  }

  /** Returns how many subscriptions received the message. */
  publish(sourceComponent: string, topic: string, message: LocalMessage): number {
    let delivered = 0;
    for (const subscription of [...this.subscriptions]) {
      if (!mqttFilterMatches(subscription.filter, topic)) continue;
      const isOwnMessage = subscription.componentName === sourceComponent;
      if (isOwnMessage && subscription.receiveMode === 'RECEIVE_MESSAGES_FROM_OTHERS') continue;
      subscription.deliver(topic, message);
      delivered += 1;
    }
    return delivered;
  }
}
