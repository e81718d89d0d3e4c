// Turns a validated Topology into simple_switch_CLI commands for p4/edgeshift.p4: the policy as
// policy_table's default action, then node_table, service_table, reply_table and ipv4_lpm entries,
// with the fully qualified names of the compiled program. Called by scripts/generate-switch-commands.ts.
// Invariant: the output depends on the topology only (no time, no order other than the file's).
import { nodeByName, serviceByName, type Topology } from './topology.ts';

const INGRESS = 'EdgeShiftIngress';

/** Fully qualified table and action names, as p4c names them in the BMv2 JSON. */
export const SWITCH_NAMES = {
  policyTable: `${INGRESS}.policy_table`,
  setPolicy: `${INGRESS}.set_policy`,
  nodeTable: `${INGRESS}.node_table`,
  setNode: `${INGRESS}.set_node`,
  serviceTable: `${INGRESS}.service_table`,
  steerToOwner: `${INGRESS}.steer_to_owner`,
  balanceBetween: `${INGRESS}.balance_between`,
  replyTable: `${INGRESS}.reply_table`,
  setVipSource: `${INGRESS}.set_vip_source`,
  ipv4Lpm: `${INGRESS}.ipv4_lpm`,
  ipv4Forward: `${INGRESS}.ipv4_forward`,
} as const;

/** 0 stands for "no node" / "no service" in set_node (docs/protocol.md §2). */
const NONE = 0;

function policyCommand(topology: Topology): string {
  const { loadHighBp, loadLowBp, overloadReports, livenessReports, livenessTimeoutUs } = topology.policy;
  return `table_set_default ${SWITCH_NAMES.policyTable} ${SWITCH_NAMES.setPolicy} ${loadHighBp} ${loadLowBp} ${overloadReports} ${livenessReports} ${livenessTimeoutUs}`;
}

function nodeCommands(topology: Topology): string[] {
  return topology.nodes.map((node) => {
    const peerId = node.peer === undefined ? NONE : nodeByName(topology, node.peer).id;
    const serviceId =
      node.offloadService === undefined ? NONE : serviceByName(topology, node.offloadService).id;
    return `table_add ${SWITCH_NAMES.nodeTable} ${SWITCH_NAMES.setNode} ${node.id} => ${node.ipv4} ${node.mac.toLowerCase()} ${node.switchPort} ${peerId} ${serviceId}`;
  });
}

function serviceCommands(topology: Topology): string[] {
  return topology.services.map((service) => {
    const key = `${service.vip} ${service.udpPort}`;
    if (service.balanceBetween === undefined) {
      return `table_add ${SWITCH_NAMES.serviceTable} ${SWITCH_NAMES.steerToOwner} ${key} => ${service.id}`;
    }
    const [nodeA, nodeB] = service.balanceBetween.map((name) => nodeByName(topology, name).id);
    return `table_add ${SWITCH_NAMES.serviceTable} ${SWITCH_NAMES.balanceBetween} ${key} => ${service.id} ${nodeA} ${nodeB}`;
  });
}

/** A reply from any node's service port leaves with that service's VIP as source. */
function replyCommands(topology: Topology): string[] {
  return topology.nodes.flatMap((node) =>
    topology.services.map(
      (service) =>
        `table_add ${SWITCH_NAMES.replyTable} ${SWITCH_NAMES.setVipSource} ${node.ipv4} ${service.udpPort} => ${service.vip}`,
    ),
  );
}

function routeCommands(topology: Topology): string[] {
  return topology.routes.map(
    (route) =>
      `table_add ${SWITCH_NAMES.ipv4Lpm} ${SWITCH_NAMES.ipv4Forward} ${route.prefix} => ${route.nextHopMac.toLowerCase()} ${route.switchPort}`,
  );
}

export function renderSwitchCommands(topology: Topology): string[] {
  return [
    policyCommand(topology),
    ...nodeCommands(topology),
    ...serviceCommands(topology),
    ...replyCommands(topology),
    ...routeCommands(topology),
  ];
}
