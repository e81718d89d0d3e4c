// Lifecycle operations of the local nucleus: UpdateState (a component reports RUNNING or ERRORED) and
// GetComponentDetails (name, version, state), with the nucleus's error texts. Registered by
// operations/index.ts; acts on the component registry through NucleusServices.
import { ModeledIpcError, UnmodeledIpcError } from '../service-model.ts';
import type { OperationHandler } from './operation-context.ts';

export const updateState: OperationHandler = (request, stream, services) => {
  if (services.findComponent(stream.componentName) === undefined) {
    throw new ModeledIpcError('aws.greengrass#ResourceNotFoundError', 'Component with given name not found', {
      resourceType: 'Component',
      resourceName: stream.componentName,
    });
  }
  // The nucleus parses the state without translateExceptions, so anything but the two reportable states
  // escapes as the plain-text InternalServerError.
  const state = request.state;
  if (state !== 'RUNNING' && state !== 'ERRORED')
    throw new UnmodeledIpcError(`cannot report state ${String(state)}`);
  services.reportState(stream.componentName, state);
  stream.respond({});
};

export const getComponentDetails: OperationHandler = (request, stream, services) => {
  const componentName = request.componentName;
  if (typeof componentName !== 'string' || componentName === '') {
    throw new ModeledIpcError('aws.greengrass#InvalidArgumentsError', 'Component name cannot be empty');
  }
  const component = services.findComponent(componentName);
  if (component === undefined) {
    throw new ModeledIpcError(
      'aws.greengrass#ResourceNotFoundError',
      `Component with name ${componentName} not found in Greengrass`,
    );
  }
  // The nucleus fills `configuration` from the legacy `parameters` key only, so v2 components get none.
  stream.respond({
    componentDetails: { componentName: component.name, version: component.version, state: component.state },
  });
};
