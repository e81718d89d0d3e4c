// The function host's configuration: its TypeScript shape, the JSON Schema beside the recipe
// (recipes/schemas/com.edgeshift.FunctionHost.schema.json) and the rules across fields. Used by main.ts
// through the component runtime and by tests. Invariant: inner code only sees a validated, frozen config.
import schema from '../../recipes/schemas/com.edgeshift.FunctionHost.schema.json' with { type: 'json' };
import { compileConfigValidator, type CrossFieldRule } from '../common/config-validator.ts';
import type { UdpAddress } from './function-host-api.ts';

export const FUNCTION_HOST_COMPONENT = 'com.edgeshift.FunctionHost';
export const functionHostSchema = schema;

export interface ServiceConfig {
  readonly name: string;
  readonly serviceId: number;
  readonly module: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly listenAddress: string;
  readonly port: number;
  readonly initialRole: 'owner' | 'standby';
  readonly initialEpoch: number;
}

export interface RouteConfig extends UdpAddress {
  readonly epoch: number;
}

export interface FunctionHostConfig {
  readonly nodeName: string;
  readonly advertiseAddress: string;
  readonly services: readonly ServiceConfig[];
  readonly serviceAddresses: Readonly<Record<string, UdpAddress>>;
  readonly routes: Readonly<Record<string, RouteConfig>>;
  readonly maxBufferedRequests: number;
  readonly dedupeEntriesPerKey: number;
  /** Relative to the working directory (the component's work folder); '' turns checkpoints off. */
  readonly stateCheckpointDir: string;
  /** How long a stop may take to drain the node (drain-before-stop.ts); 0: no drain. */
  readonly drainTimeoutMs: number;
  readonly handOverHoldMs: number;
  readonly callTimeoutMs: number;
  readonly callAttempts: number;
  readonly maxChunkBytes: number;
}

function firstDuplicate(values: readonly (string | number)[]): string | number | undefined {
  const seen = new Set<string | number>();
  return values.find((value) => (seen.has(value) ? true : (seen.add(value), false)));
}

const uniqueServices: CrossFieldRule<FunctionHostConfig> = (config) => {
  const name = firstDuplicate(config.services.map((service) => service.name));
  if (name !== undefined) return `/services has two services named ${name}`;
  const serviceId = firstDuplicate(config.services.map((service) => service.serviceId));
  if (serviceId !== undefined) return `/services has two services with serviceId ${serviceId}`;
  const port = firstDuplicate(config.services.map((service) => `${service.listenAddress}:${service.port}`));
  return port === undefined ? undefined : `/services has two services listening on ${port}`;
};

export const FUNCTION_HOST_RULES: readonly CrossFieldRule<FunctionHostConfig>[] = [uniqueServices];

export const validateFunctionHostConfig = compileConfigValidator<FunctionHostConfig>(
  FUNCTION_HOST_COMPONENT,
  functionHostSchema,
  FUNCTION_HOST_RULES,
);
