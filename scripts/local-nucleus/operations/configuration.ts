// Configuration operations of the local nucleus: GetConfiguration, UpdateConfiguration,
// SubscribeToConfigurationUpdate, SubscribeToValidateConfigurationUpdates and SendConfigurationValidityReport,
// with the nucleus's response shapes and error texts (ConfigStoreIPCEventStreamAgent). Registered by
// operations/index.ts; acts on ConfigurationStore and ConfigurationValidation. No policy is needed: a
// component reads any component's configuration and writes only its own, as on a device.
import { isPlainObject } from '../configuration-store.ts';
import { ModeledIpcError } from '../service-model.ts';
import type { OperationHandler, OperationRequest } from './operation-context.ts';

const KEY_NOT_FOUND = 'Key not found';
const RESTRICTED_FIELDS = ['accessControl'];

function keyPathOf(request: OperationRequest): string[] {
  const keyPath = request.keyPath;
  if (!Array.isArray(keyPath)) return [];
  return keyPath.filter((key): key is string => typeof key === 'string');
}

function targetComponent(request: OperationRequest, caller: string): string {
  return typeof request.componentName === 'string' ? request.componentName : caller;
}

function invalidArguments(message: string): ModeledIpcError {
  return new ModeledIpcError('aws.greengrass#InvalidArgumentsError', message);
}

export const getConfiguration: OperationHandler = (request, stream, services) => {
  const componentName = targetComponent(request, stream.componentName);
  const keyPath = keyPathOf(request);
  const { found, value } = services.configuration.find(componentName, keyPath);
  if (!found) throw new ModeledIpcError('aws.greengrass#ResourceNotFoundError', KEY_NOT_FOUND);
  const lastKey = keyPath[keyPath.length - 1];
  // A leaf comes back wrapped in an object under its own key, as the nucleus returns a Topic.
  const wrapped = isPlainObject(value) || lastKey === undefined ? value : { [lastKey]: value };
  stream.respond({ componentName, value: wrapped });
};

export const updateConfiguration: OperationHandler = (request, stream, services) => {
  if (typeof request.timestamp !== 'number') throw invalidArguments('Timestamp is required');
  const valueToMerge = request.valueToMerge;
  if (valueToMerge === undefined || valueToMerge === null) throw invalidArguments('ValueToMerge is required');
  const keyPath = keyPathOf(request);
  const touchesRestricted =
    keyPath.length === 0
      ? isPlainObject(valueToMerge) &&
        Object.keys(valueToMerge).some((key) => RESTRICTED_FIELDS.includes(key))
      : RESTRICTED_FIELDS.includes(keyPath[0] ?? '');
  if (touchesRestricted) {
    throw invalidArguments(
      `Config update is not allowed for following fields [${RESTRICTED_FIELDS.join(', ')}]`,
    );
  }
  if (!services.configuration.has(stream.componentName)) {
    throw invalidArguments(`Component config not found for component ${stream.componentName}`);
  }
  // The client sends the timestamp as fractional seconds since the epoch.
  const timestampMs = request.timestamp * 1000;
  if (!services.configuration.mergeAt(stream.componentName, keyPath, valueToMerge, timestampMs)) {
    throw new ModeledIpcError(
      'aws.greengrass#FailedUpdateConditionCheckError',
      "Proposed timestamp is older than the config's latest modified timestamp",
    );
  }
  stream.respond({});
};

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.every((key, index) => path[index] === key);
}

export const subscribeToConfigurationUpdate: OperationHandler = (request, stream, services) => {
  const componentName = targetComponent(request, stream.componentName);
  const keyPath = keyPathOf(request);
  if (!services.configuration.find(componentName, keyPath).found) {
    throw new ModeledIpcError('aws.greengrass#ResourceNotFoundError', KEY_NOT_FOUND);
  }
  stream.respond({});
  const listener = (change: { componentName: string; keyPath: readonly string[] }): void => {
    if (change.componentName !== componentName) return;
    if (!startsWith(change.keyPath, keyPath) && !startsWith(keyPath, change.keyPath)) return;
    stream.sendEvent({ configurationUpdateEvent: { componentName, keyPath: change.keyPath } });
  };
  services.configuration.on('change', listener);
  stream.onClose(() => services.configuration.off('change', listener));
};

export const subscribeToValidateConfigurationUpdates: OperationHandler = (_request, stream, services) => {
  stream.respond({});
  const unregister = services.validation.register(stream.componentName, (deploymentId, configuration) => {
    stream.sendEvent({ validateConfigurationUpdateEvent: { configuration, deploymentId } });
  });
  stream.onClose(unregister);
};

export const sendConfigurationValidityReport: OperationHandler = (request, stream, services) => {
  const report = request.configurationValidityReport;
  if (!isPlainObject(report)) throw invalidArguments('configurationValidityReport is required');
  const status = report.status === 'REJECTED' ? 'REJECTED' : 'ACCEPTED';
  const message = typeof report.message === 'string' ? report.message : undefined;
  services.validation.report(stream.componentName, report.deploymentId, {
    status,
    ...(message === undefined ? {} : { message }),
  });
  stream.respond({});
};
