// The node CLI's side of the peer agent's control interface (agent/control-service.ts): status, migrate
// and drain requests over local pub/sub on agentControlTopic(thingName). Answers are validated here with
// ajv (the drain answer by its shared contract), so commands get typed values. Used by the status,
// migrate and drain commands and by doctor.
import { Ajv } from 'ajv';

import {
  agentControlTopic,
  parseDrainReport,
  type DrainReport,
} from '../../components/common/agent-control-contract.ts';
import { EdgeShiftError } from '../../components/common/errors.ts';
import type { IpcClient } from '../../components/common/ipc/index.ts';

export interface AgentMigrationView {
  readonly migration_id: string;
  readonly service: string;
  readonly role: string;
  readonly state: string;
  readonly epoch: number;
  readonly peer_node_id: string;
}

export interface AgentResultView {
  readonly migrationId: string;
  readonly service: string;
  readonly sourceNodeId: string;
  readonly targetNodeId: string;
  readonly epoch: number;
  readonly cutover: string;
  readonly outcome: string;
  readonly abortReason?: { readonly code: string; readonly message: string };
  readonly snapshotBytes: number;
  readonly chunkCount: number;
  readonly deltaRounds: number;
  readonly deltaBytes: number;
  readonly transferMs: number;
  readonly freezeWindowMs: number;
  readonly serviceFrozenMs: number;
  readonly cutoverMs: number;
  readonly totalMs: number;
  readonly bufferedRequests: number;
  readonly forwardedRequests: number;
  readonly transitions: readonly { readonly from: string; readonly to: string; readonly atMs: number }[];
}

export interface AgentStatusView {
  readonly nodeId: string;
  readonly functions: readonly {
    readonly service: string;
    readonly role: string;
    readonly epoch: number;
    readonly stateBytes: number;
  }[];
  readonly migrations: readonly AgentMigrationView[];
  readonly lastResults: readonly AgentResultView[];
}

const ajv = new Ajv({ allErrors: true });
const text = { type: 'string' } as const;
const num = { type: 'number' } as const;

const resultSchema = {
  type: 'object',
  required: [
    'migrationId',
    'service',
    'sourceNodeId',
    'targetNodeId',
    'epoch',
    'cutover',
    'outcome',
    'totalMs',
    'transitions',
  ],
  properties: {
    migrationId: text,
    service: text,
    sourceNodeId: text,
    targetNodeId: text,
    epoch: num,
    cutover: text,
    outcome: text,
    abortReason: { type: 'object', required: ['code', 'message'], properties: { code: text, message: text } },
    totalMs: num,
    transitions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['from', 'to', 'atMs'],
        properties: { from: text, to: text, atMs: num },
      },
    },
  },
} as const;

const validateStatus = ajv.compile<AgentStatusView>({
  type: 'object',
  required: ['nodeId', 'functions', 'migrations', 'lastResults'],
  properties: {
    nodeId: text,
    functions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['service', 'role', 'epoch'],
        properties: { service: text, role: text, epoch: num },
      },
    },
    migrations: {
      type: 'array',
      items: {
        type: 'object',
        required: ['migration_id', 'service', 'role', 'state', 'epoch', 'peer_node_id'],
        properties: {
          migration_id: text,
          service: text,
          role: text,
          state: text,
          epoch: num,
          peer_node_id: text,
        },
      },
    },
    lastResults: { type: 'array', items: resultSchema },
  },
});

const validateStarted = ajv.compile<{ migrationId: string }>({
  type: 'object',
  required: ['migrationId'],
  properties: { migrationId: text },
});

function badAnswer(what: string, body: unknown): EdgeShiftError {
  return new EdgeShiftError(
    'ERR_CLI_BAD_AGENT_ANSWER',
    `the peer agent answered ${what} with an unexpected body: ${JSON.stringify(body ?? null).slice(0, 200)}`,
  );
}

/** Validates an agent status answer (also used by the demo, which reads it through the test bed). */
export function parseAgentStatus(body: unknown): AgentStatusView {
  if (!validateStatus(body)) throw badAnswer('status', body);
  return body;
}

export class AgentControlClient {
  private readonly topic: string;

  constructor(
    private readonly ipc: IpcClient,
    thingName: string,
    private readonly timeoutMs: number,
  ) {
    this.topic = agentControlTopic(thingName);
  }

  async status(): Promise<AgentStatusView> {
    return parseAgentStatus(
      await this.ipc.request(this.topic, { op: 'status' }, { timeoutMs: this.timeoutMs }),
    );
  }

  /** Starts a migration without waiting for it; progress is read with status(). */
  async startMigration(service: string, targetNodeId: string): Promise<string> {
    const body = await this.ipc.request(
      this.topic,
      { op: 'migrate', service, targetNodeId, wait: false },
      { timeoutMs: this.timeoutMs },
    );
    if (!validateStarted(body)) throw badAnswer('migrate', body);
    return body.migrationId;
  }

  /** Moves every service this node owns to a peer, and waits for the moves (up to `waitMs`). */
  async drain(waitMs: number): Promise<DrainReport> {
    return parseDrainReport(await this.ipc.request(this.topic, { op: 'drain' }, { timeoutMs: waitMs }));
  }
}
