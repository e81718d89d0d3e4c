// FunctionHostControl over Greengrass IPC: each call is a request on the node's function host control
// topic (functionHostControlTopic) through the shared IPC layer, and each reply is checked here, once,
// against the shape its op promises (function-host-api.ts) before the agent sees it.
// Used by agent/main.ts; tests of the agent use an in-memory double of the same interface.
import { EdgeShiftError } from '../components/common/errors.ts';
import type { IpcClient } from '../components/common/ipc/index.ts';
import {
  functionHostControlTopic,
  type FunctionHostControl,
  type FunctionHostRequest,
  type FunctionHostResponses,
} from '../components/function-host/function-host-api.ts';

type Op = FunctionHostRequest['op'];
type Fields = Record<string, unknown>;

function badReply(op: Op, field: string): EdgeShiftError {
  return new EdgeShiftError(
    'ERR_PEER_BAD_MESSAGE',
    `function host reply to ${op}: ${field} is missing or malformed`,
    {
      context: { op, field },
    },
  );
}

function fields(op: Op, value: unknown): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badReply(op, '(root)');
  return value as Fields;
}

function count(op: Op, value: Fields, field: string): number {
  const number = value[field];
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) throw badReply(op, field);
  return number;
}

function milliseconds(op: Op, value: Fields, field: string): number {
  const number = value[field];
  if (typeof number !== 'number' || !Number.isFinite(number) || number < 0) throw badReply(op, field);
  return number;
}

function text(op: Op, value: Fields, field: string): string {
  const string = value[field];
  if (typeof string !== 'string') throw badReply(op, field);
  return string;
}

function activatedReply(op: Op, f: Fields): FunctionHostResponses['activate'] {
  return { stateChecksum: text(op, f, 'stateChecksum'), epoch: count(op, f, 'epoch') };
}

function bytes(op: Op, value: Fields, field: string): Uint8Array {
  const data = value[field];
  if (!(data instanceof Uint8Array)) throw badReply(op, field);
  return data;
}

const ROLES = new Set(['owner', 'frozen', 'forwarding', 'importing', 'standby']);

/** Checks a reply against its op's response type; returns it typed. */
export function parseReply(op: Op, value: unknown): FunctionHostResponses[Op] {
  if (op === 'listFunctions') {
    if (!Array.isArray(value)) throw badReply(op, '(root)');
    return value.map((item: unknown) => {
      const f = fields(op, item);
      const role = text(op, f, 'role');
      if (!ROLES.has(role) || typeof f.isStateful !== 'boolean') throw badReply(op, 'role');
      return {
        service: text(op, f, 'service'),
        serviceId: count(op, f, 'serviceId'),
        isStateful: f.isStateful,
        role: role as FunctionHostResponses['listFunctions'][number]['role'],
        epoch: count(op, f, 'epoch'),
        stateKeys: count(op, f, 'stateKeys'),
        stateBytes: count(op, f, 'stateBytes'),
        processedRequests: count(op, f, 'processedRequests'),
        bufferedRequests: count(op, f, 'bufferedRequests'),
      };
    });
  }
  const f = fields(op, value);
  switch (op) {
    case 'beginExport':
      return {
        chunkCount: count(op, f, 'chunkCount'),
        snapshotBytes: count(op, f, 'snapshotBytes'),
        stateChecksum: text(op, f, 'stateChecksum'),
      };
    case 'readExportChunk':
      return { index: count(op, f, 'index'), data: bytes(op, f, 'data'), isLast: f.isLast === true };
    case 'nextDelta':
      return { delta: bytes(op, f, 'delta'), changedKeys: count(op, f, 'changedKeys') };
    case 'freeze':
      return {
        bufferedRequests: count(op, f, 'bufferedRequests'),
        stateChecksum: text(op, f, 'stateChecksum'),
        ...(f.finalDelta === undefined ? {} : { finalDelta: bytes(op, f, 'finalDelta') }),
      };
    case 'activate':
      return activatedReply(op, f);
    case 'awaitActivation':
      return f.activated === undefined ? {} : { activated: activatedReply(op, fields(op, f.activated)) };
    case 'contestImport': {
      const outcome = text(op, f, 'outcome');
      if (outcome !== 'activated' && outcome !== 'fenced' && outcome !== 'unknown')
        throw badReply(op, 'outcome');
      return { outcome };
    }
    case 'handOver':
      return {
        forwardedRequests: count(op, f, 'forwardedRequests'),
        frozenMs: milliseconds(op, f, 'frozenMs'),
      };
    case 'resume':
      return { processedBufferedRequests: count(op, f, 'processedBufferedRequests') };
    case 'openControlChannel':
      return { address: text(op, f, 'address'), port: count(op, f, 'port'), token: text(op, f, 'token') };
    default:
      return {};
  }
}

export class IpcFunctionHostControl implements FunctionHostControl {
  private readonly ipc: IpcClient;
  private readonly topic: string;

  constructor(ipc: IpcClient, thingName: string) {
    this.ipc = ipc;
    this.topic = functionHostControlTopic(thingName);
  }

  async call<O extends Op>(
    request: Extract<FunctionHostRequest, { op: O }>,
    timeoutMs: number,
  ): Promise<FunctionHostResponses[O]> {
    const reply = await this.ipc.request(this.topic, request, { timeoutMs });
    return parseReply(request.op, reply) as FunctionHostResponses[O];
  }
}
