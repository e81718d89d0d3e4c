// The agent's local command interface, for the node CLI and operators on the node: request/response
// over Greengrass local pub/sub on agentControlTopic(thingName) (requests on `<topic>/request`, the
// shared IPC layer's envelope). Ops: status; migrate (this node's service to a peer); pull (a peer's
// service to this node); drain (every service this node owns to a peer: the function host asks for it
// before it stops, an operator before maintenance). Requests are validated here; answers are plain JSON.
//
//   {"op":"status"}
//   {"op":"migrate","service":"sensor-stats","targetNodeId":"node-b","wait":true}
//   {"op":"pull","service":"sensor-stats","fromNodeId":"node-a"}
//   {"op":"drain"}
import type { DrainReport } from '../components/common/agent-control-contract.ts';
import { EdgeShiftError } from '../components/common/errors.ts';
import type { AgentStatus, PeerAgent } from './peer-agent.ts';
import type { MigrationResult } from './migration/source-migration.ts';

export type ControlRequest =
  | { readonly op: 'status' }
  | {
      readonly op: 'migrate';
      readonly service: string;
      readonly targetNodeId?: string;
      readonly wait: boolean;
    }
  | { readonly op: 'pull'; readonly service: string; readonly fromNodeId?: string }
  | { readonly op: 'drain' };

export type ControlReply =
  AgentStatus | MigrationResult | DrainReport | { readonly migrationId: string; readonly detail?: string };

function invalid(reason: string): EdgeShiftError {
  return new EdgeShiftError('ERR_PEER_BAD_MESSAGE', `agent control request: ${reason}`, {
    context: { reason },
  });
}

function optionalText(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${field} must be a non-empty string`);
  return value;
}

function requiredText(body: Record<string, unknown>, field: string): string {
  const value = optionalText(body, field);
  if (value === undefined) throw invalid(`${field} is required`);
  return value;
}

export function parseControlRequest(body: unknown): ControlRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('not a JSON object');
  const fields = body as Record<string, unknown>;
  switch (fields.op) {
    case 'status':
      return { op: 'status' };
    case 'migrate': {
      const targetNodeId = optionalText(fields, 'targetNodeId');
      if (fields.wait !== undefined && typeof fields.wait !== 'boolean')
        throw invalid('wait must be a boolean');
      return {
        op: 'migrate',
        service: requiredText(fields, 'service'),
        ...(targetNodeId ? { targetNodeId } : {}),
        wait: fields.wait !== false,
      };
    }
    case 'pull': {
      const fromNodeId = optionalText(fields, 'fromNodeId');
      return { op: 'pull', service: requiredText(fields, 'service'), ...(fromNodeId ? { fromNodeId } : {}) };
    }
    case 'drain':
      return { op: 'drain' };
    default:
      throw invalid(`op must be status, migrate, pull or drain, instead got '${String(fields.op)}'`);
  }
}

/** Runs one control request; `migrate` with wait answers the MigrationResult (aborted moves included). */
export async function handleControlRequest(agent: PeerAgent, request: ControlRequest): Promise<ControlReply> {
  switch (request.op) {
    case 'status':
      return agent.status();
    case 'migrate': {
      const handle = await agent.startMigration(request.service, request.targetNodeId);
      return request.wait ? handle.result : { migrationId: handle.migrationId };
    }
    case 'pull':
      return agent.pull(request.service, request.fromNodeId);
    case 'drain':
      return agent.drain();
  }
}
