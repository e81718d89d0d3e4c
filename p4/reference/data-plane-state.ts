// Read-only views of the reference pipeline's state for people: per-node loads and liveness, per-
// service owner and epoch, labelled with names from the topology. Used by the decision log's
// per-second summary and by the admin interface. Invariant: reading never changes the pipeline.
import { ACTION_NAMES, REGISTER_NAMES, TABLE_NAMES } from './program.ts';
import type { ReferencePipeline } from './pipeline.ts';
import type { DataPlaneLabels } from './switch-commands.ts';

export interface NodeView {
  readonly nodeId: number;
  readonly name: string | undefined;
  readonly cpuLoadBp: number;
  readonly memLoadBp: number;
  readonly loadBp: number;
  readonly inflightRequests: number;
  readonly isLive: boolean;
  readonly lastSequence: number;
  readonly lastReportClock: number;
  readonly lastSeenUs: number;
  readonly overloadStreak: number;
}

export interface ServiceView {
  readonly serviceId: number;
  readonly name: string | undefined;
  readonly ownerNodeId: number;
  readonly ownerName: string | undefined;
  readonly epoch: number;
}

export const NO_LABELS: DataPlaneLabels = { nodes: new Map(), services: new Map() };

/** Nodes known from node_table entries or the labels, by id. */
export function describeNodes(
  pipeline: ReferencePipeline,
  labels: DataPlaneLabels,
  nowUs: bigint,
): NodeView[] {
  const ids = new Set<number>(labels.nodes.keys());
  for (const entry of pipeline.table(TABLE_NAMES.node).entries()) ids.add(entry.keys[0]?.value ?? 0);
  const now = Number(BigInt.asUintN(48, nowUs));
  return [...ids]
    .sort((a, b) => a - b)
    .map((nodeId) => ({
      nodeId,
      name: labels.nodes.get(nodeId),
      cpuLoadBp: pipeline.readRegister(REGISTER_NAMES.nodeCpuLoad, nodeId),
      memLoadBp: pipeline.readRegister(REGISTER_NAMES.nodeMemLoad, nodeId),
      loadBp: pipeline.load(nodeId),
      inflightRequests: pipeline.readRegister(REGISTER_NAMES.nodeInflight, nodeId),
      isLive: pipeline.isLive(nodeId, now),
      lastSequence: pipeline.readRegister(REGISTER_NAMES.nodeLastSequence, nodeId),
      lastReportClock: pipeline.readRegister(REGISTER_NAMES.nodeLastReportClock, nodeId),
      lastSeenUs: pipeline.readRegister(REGISTER_NAMES.nodeLastSeenUs, nodeId),
      overloadStreak: pipeline.readRegister(REGISTER_NAMES.nodeOverloadStreak, nodeId),
    }));
}

/** Services known from service_table entries, the labels, or an owner in the registers, by id. */
export function describeServices(pipeline: ReferencePipeline, labels: DataPlaneLabels): ServiceView[] {
  const ids = new Set<number>(labels.services.keys());
  for (const entry of pipeline.table(TABLE_NAMES.service).entries()) {
    if (entry.action !== ACTION_NAMES.noAction) ids.add(entry.params.service_id ?? 0);
  }
  const owners = pipeline.register(REGISTER_NAMES.serviceOwner).snapshot();
  owners.forEach((owner, serviceId) => {
    if (owner !== 0) ids.add(serviceId);
  });
  return [...ids]
    .sort((a, b) => a - b)
    .map((serviceId) => {
      const ownerNodeId = pipeline.readRegister(REGISTER_NAMES.serviceOwner, serviceId);
      return {
        serviceId,
        name: labels.services.get(serviceId),
        ownerNodeId,
        ownerName: labels.nodes.get(ownerNodeId),
        epoch: pipeline.readRegister(REGISTER_NAMES.serviceEpoch, serviceId),
      };
    });
}
