// What an IPC operation handler of the local nucleus receives: the open RPC stream it answers on, and the
// nucleus services it acts on. Implemented by ipc-connection.ts (streams) and local-nucleus.ts (services);
// used by every file in operations/. Invariant: a handler answers through its stream only, and registers any
// subscription cleanup with onClose so a vanished client leaves nothing behind.
import type { Authorizer } from '../authorization.ts';
import type { ConfigurationStore } from '../configuration-store.ts';
import type { ConfigurationValidation } from '../configuration-validation.ts';
import type { LocalPubSub } from '../local-pubsub.ts';
import type { MqttBridge } from '../mqtt-bridge.ts';

export type ComponentState =
  'NEW' | 'INSTALLED' | 'STARTING' | 'RUNNING' | 'STOPPING' | 'ERRORED' | 'BROKEN' | 'FINISHED';

export interface ComponentRecord {
  readonly name: string;
  readonly version: string;
  readonly state: ComponentState;
}

export interface NucleusServices {
  readonly thingName: string;
  readonly authorizer: Authorizer;
  readonly pubsub: LocalPubSub;
  readonly configuration: ConfigurationStore;
  readonly validation: ConfigurationValidation;
  readonly mqttBridge: MqttBridge | undefined;
  findComponent(name: string): ComponentRecord | undefined;
  reportState(name: string, state: ComponentState): void;
}

export interface OperationStream {
  /** The authenticated component (the principal). */
  readonly componentName: string;
  readonly operationName: string;
  readonly isOpen: boolean;
  /** Sends the operation's response; ends the stream unless the operation streams events. */
  respond(body: object): void;
  /** Sends one event on a streaming operation; dropped once the stream is closed. */
  sendEvent(body: object): void;
  onClose(cleanup: () => void): void;
}

export type OperationRequest = Readonly<Record<string, unknown>>;

export type OperationHandler = (
  request: OperationRequest,
  stream: OperationStream,
  services: NucleusServices,
) => void | Promise<void>;
