// HTTP client of the reference data plane's admin interface (p4/reference/admin-server.ts): per-node
// loads and liveness, service owners and epochs, registers. Used by the CLI's nodes/services/registers
// and doctor commands and by the demo. Invariant: every answer is validated here once; callers get
// typed values or an EdgeShiftError saying what to do.
import { Ajv } from 'ajv';

import { EdgeShiftError } from '../../components/common/errors.ts';

export const DEFAULT_DATA_PLANE_ADMIN = 'http://127.0.0.1:7780';

export interface AdminNode {
  readonly nodeId: number;
  readonly name: string | null;
  readonly cpuLoadBp: number;
  readonly memLoadBp: number;
  readonly loadBp: number;
  readonly inflightRequests: number;
  readonly isLive: boolean;
  readonly lastSequence: number;
  readonly overloadStreak: number;
}

export interface AdminService {
  readonly serviceId: number;
  readonly name: string | null;
  readonly ownerNodeId: number;
  readonly ownerName: string | null;
  readonly epoch: number;
}

export interface AdminRegister {
  readonly name: string;
  readonly widthBits: number;
  readonly size: number;
  readonly indexedBy: string;
  readonly values: readonly {
    readonly index: number;
    readonly label: string | null;
    readonly value: number;
  }[];
}

const ajv = new Ajv({ allErrors: true });
const nullableString = { type: 'string', nullable: true } as const;
const int = { type: 'integer' } as const;

const nodesSchema = {
  type: 'object',
  required: ['nodes'],
  properties: {
    nodes: {
      type: 'array',
      items: {
        type: 'object',
        required: [
          'nodeId',
          'name',
          'cpuLoadBp',
          'memLoadBp',
          'loadBp',
          'inflightRequests',
          'isLive',
          'lastSequence',
          'overloadStreak',
        ],
        properties: {
          nodeId: int,
          name: nullableString,
          cpuLoadBp: int,
          memLoadBp: int,
          loadBp: int,
          inflightRequests: int,
          isLive: { type: 'boolean' },
          lastSequence: int,
          overloadStreak: int,
        },
      },
    },
  },
};

const servicesSchema = {
  type: 'object',
  required: ['services'],
  properties: {
    services: {
      type: 'array',
      items: {
        type: 'object',
        required: ['serviceId', 'name', 'ownerNodeId', 'ownerName', 'epoch'],
        properties: {
          serviceId: int,
          name: nullableString,
          ownerNodeId: int,
          ownerName: nullableString,
          epoch: int,
        },
      },
    },
  },
};

const registersSchema = {
  type: 'object',
  required: ['registers'],
  properties: {
    registers: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'widthBits', 'size', 'indexedBy', 'values'],
        properties: {
          name: { type: 'string' },
          widthBits: int,
          size: int,
          indexedBy: { type: 'string' },
          values: {
            type: 'array',
            items: {
              type: 'object',
              required: ['index', 'label', 'value'],
              properties: { index: int, label: nullableString, value: { type: 'number' } },
            },
          },
        },
      },
    },
  },
};

const validateNodes = ajv.compile<{ nodes: AdminNode[] }>(nodesSchema);
const validateServices = ajv.compile<{ services: AdminService[] }>(servicesSchema);
const validateRegisters = ajv.compile<{ registers: AdminRegister[] }>(registersSchema);

export class DataPlaneAdminClient {
  constructor(
    readonly baseUrl: string = DEFAULT_DATA_PLANE_ADMIN,
    private readonly timeoutMs = 3000,
  ) {}

  async nodes(): Promise<readonly AdminNode[]> {
    return (await this.get('/nodes', validateNodes)).nodes;
  }

  async services(): Promise<readonly AdminService[]> {
    return (await this.get('/services', validateServices)).services;
  }

  async registers(): Promise<readonly AdminRegister[]> {
    return (await this.get('/registers', validateRegisters)).registers;
  }

  private async get<T>(
    path: string,
    validate: ((value: unknown) => value is T) & { errors?: unknown },
  ): Promise<T> {
    const url = new URL(path, this.baseUrl).href;
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (cause) {
      throw new EdgeShiftError(
        'ERR_CLI_DATA_PLANE_UNREACHABLE',
        `the data plane admin interface at ${this.baseUrl} did not answer GET ${path} (${describeCause(cause)}); ` +
          'start it with `npx tsx scripts/reference-data-plane.ts --topology p4/control-plane/local.yaml --admin-port 7780` ' +
          'or pass --data-plane-admin http://127.0.0.1:<port>',
        { context: { url }, cause },
      );
    }
    const body: unknown = await response.json().catch(() => undefined);
    if (!response.ok || !validate(body)) {
      throw new EdgeShiftError(
        'ERR_CLI_DATA_PLANE_BAD_ANSWER',
        `GET ${url} answered ${response.status} with an unexpected body: ${JSON.stringify(body ?? null).slice(0, 200)}; ` +
          'check that --data-plane-admin points at an EdgeShift reference data plane',
        { context: { url, status: response.status } },
      );
    }
    return body;
  }
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = (cause as { cause?: unknown }).cause;
  if (!(inner instanceof Error)) return cause.message;
  const code = (inner as { code?: unknown }).code;
  return `${cause.message}: ${typeof code === 'string' ? code : inner.message}`;
}
