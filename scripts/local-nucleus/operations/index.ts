// The table of IPC operations the local nucleus implements, by their model name. Read by ipc-connection.ts;
// operations of the model not listed here are answered as the nucleus answers an operation that no installed
// component provides (see ipc-connection.ts).
import {
  getConfiguration,
  sendConfigurationValidityReport,
  subscribeToConfigurationUpdate,
  subscribeToValidateConfigurationUpdates,
  updateConfiguration,
} from './configuration.ts';
import { getComponentDetails, updateState } from './lifecycle.ts';
import { publishToIoTCore, subscribeToIoTCore } from './mqtt-proxy.ts';
import type { OperationHandler } from './operation-context.ts';
import { publishToTopic, subscribeToTopic } from './pubsub.ts';

export const OPERATION_HANDLERS: ReadonlyMap<string, OperationHandler> = new Map<string, OperationHandler>([
  ['aws.greengrass#PublishToTopic', publishToTopic],
  ['aws.greengrass#SubscribeToTopic', subscribeToTopic],
  ['aws.greengrass#GetConfiguration', getConfiguration],
  ['aws.greengrass#UpdateConfiguration', updateConfiguration],
  ['aws.greengrass#SubscribeToConfigurationUpdate', subscribeToConfigurationUpdate],
  ['aws.greengrass#SubscribeToValidateConfigurationUpdates', subscribeToValidateConfigurationUpdates],
  ['aws.greengrass#SendConfigurationValidityReport', sendConfigurationValidityReport],
  ['aws.greengrass#UpdateState', updateState],
  ['aws.greengrass#GetComponentDetails', getComponentDetails],
  ['aws.greengrass#PublishToIoTCore', publishToIoTCore],
  ['aws.greengrass#SubscribeToIoTCore', subscribeToIoTCore],
]);
