// The Greengrass IPC service model as the nucleus serves it: operation names and their response / event shape
// names, read from the SDK's own generated model so both ends agree by construction, plus the modeled errors.
// Used by ipc-connection.ts and the operations/ handlers. Invariant: every response carries the
// `service-model-type` the client's model expects for that operation, or a modeled error shape.
import { makeServiceModel } from 'aws-iot-device-sdk-v2/dist/greengrasscoreipc/model_utils.js';

export const SERVICE_MODEL_TYPE_HEADER = 'service-model-type';
export const CONTENT_TYPE_HEADER = ':content-type';
export const OPERATION_HEADER = 'operation';
export const CONTENT_TYPE_JSON = 'application/json';
export const CONTENT_TYPE_TEXT = 'text/plain';

export interface OperationShapes {
  readonly responseShape: string;
  /** The shape of events the server streams back (the client calls it the inbound message shape). */
  readonly eventShape: string | undefined;
}

const model = makeServiceModel();

/** Response and event shapes for an operation of the model, or undefined when the model has no such name. */
export function operationShapes(operationName: string): OperationShapes | undefined {
  const operation = model.operations.get(operationName);
  if (operation === undefined) return undefined;
  return { responseShape: operation.responseShape, eventShape: operation.inboundMessageShape };
}

export type ModeledErrorShape =
  | 'aws.greengrass#ServiceError'
  | 'aws.greengrass#UnauthorizedError'
  | 'aws.greengrass#ResourceNotFoundError'
  | 'aws.greengrass#InvalidArgumentsError'
  | 'aws.greengrass#ConflictError'
  | 'aws.greengrass#FailedUpdateConditionCheckError';

/**
 * A modeled IPC error, sent to the client as an ApplicationError frame with `service-model-type` = shape and
 * payload {"message": ...}. It is part of the wire protocol (what a device answers), not an EdgeShift failure,
 * so it is not an EdgeShiftError: handlers throw it and the connection turns it into a frame.
 */
export class ModeledIpcError extends Error {
  constructor(
    readonly shape: ModeledErrorShape,
    message: string,
    /** Further members of the error shape, e.g. resourceType / resourceName of ResourceNotFoundError. */
    readonly fields: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ModeledIpcError';
  }
}

/**
 * A failure the nucleus does not translate into a modeled error (an exception escaping a handler that does not
 * use translateExceptions): the client receives the plain-text "InternalServerError".
 */
export class UnmodeledIpcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnmodeledIpcError';
  }
}
