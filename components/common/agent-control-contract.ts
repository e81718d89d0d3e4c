// The peer agent's local control topic and the answer to its drain request: one definition for the
// agent that serves them (agent/control-service.ts), the function host that asks for a drain before it
// stops (components/function-host/drain-before-stop.ts) and the node CLI. A drain answer is validated
// with ajv where it is received, so a version skew between the two components shows as a clear error.
import { Ajv } from 'ajv';

import { EdgeShiftError } from './errors.ts';

export function agentControlTopic(thingName: string): string {
  return `edgeshift/agent/${thingName}/control`;
}

export interface DrainedService {
  readonly service: string;
  readonly targetNodeId: string;
  readonly migrationId: string;
  /** The epoch the peer owns the service at. */
  readonly epoch: number;
}

export interface KeptService {
  readonly service: string;
  /** Why no peer took it (each peer's refusal or abort, in order). */
  readonly reason: string;
}

/** What a drain did with each service the node owned: moved to a peer, or kept here. */
export interface DrainReport {
  readonly moved: readonly DrainedService[];
  readonly kept: readonly KeptService[];
}

const text = { type: 'string' } as const;

const validateDrainReport = new Ajv({ allErrors: true }).compile<DrainReport>({
  type: 'object',
  required: ['moved', 'kept'],
  properties: {
    moved: {
      type: 'array',
      items: {
        type: 'object',
        required: ['service', 'targetNodeId', 'migrationId', 'epoch'],
        properties: { service: text, targetNodeId: text, migrationId: text, epoch: { type: 'integer' } },
      },
    },
    kept: {
      type: 'array',
      items: { type: 'object', required: ['service', 'reason'], properties: { service: text, reason: text } },
    },
  },
});

export function parseDrainReport(body: unknown): DrainReport {
  if (validateDrainReport(body)) return body;
  throw new EdgeShiftError(
    'ERR_AGENT_BAD_DRAIN_ANSWER',
    `the peer agent answered a drain request with an unexpected body: ${JSON.stringify(body ?? null).slice(0, 200)}`,
    { context: { errors: JSON.stringify(validateDrainReport.errors ?? []) } },
  );
}
