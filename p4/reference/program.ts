// The control-plane view of the EdgeShift program (docs/protocol.md §2): its tables, actions,
// registers and counters with their fully qualified names and widths, as the compiled BMv2 JSON
// lists them. The pipeline builds its state from this; the STF runner and the admin server resolve
// names against it. Invariant: names and widths are those of p4/edgeshift.p4.
import { EdgeShiftError } from '../../components/common/errors.ts';
import { NODE_COUNT, SERVICE_COUNT } from '../protocol/edgeshift-protocol.ts';
import type { ActionDefinition, TableDefinition } from './tables.ts';

const INGRESS = 'EdgeShiftIngress';

export const ACTION_NAMES = {
  noAction: 'NoAction',
  setNode: `${INGRESS}.set_node`,
  steerToOwner: `${INGRESS}.steer_to_owner`,
  balanceBetween: `${INGRESS}.balance_between`,
  setVipSource: `${INGRESS}.set_vip_source`,
  ipv4Forward: `${INGRESS}.ipv4_forward`,
  drop: `${INGRESS}.drop`,
  setPolicy: `${INGRESS}.set_policy`,
} as const;

export const TABLE_NAMES = {
  node: `${INGRESS}.node_table`,
  service: `${INGRESS}.service_table`,
  reply: `${INGRESS}.reply_table`,
  ipv4Lpm: `${INGRESS}.ipv4_lpm`,
  policy: `${INGRESS}.policy_table`,
} as const;

// Registers and the counter are declared at the top level of the program, so BMv2 names them bare.
export const REGISTER_NAMES = {
  nodeCpuLoad: 'node_cpu_load',
  nodeMemLoad: 'node_mem_load',
  nodeInflight: 'node_inflight',
  nodeLastSequence: 'node_last_sequence',
  nodeLastReportClock: 'node_last_report_clock',
  nodeLastSeenUs: 'node_last_seen_us',
  nodeOverloadStreak: 'node_overload_streak',
  metricsReportClock: 'metrics_report_clock',
  serviceOwner: 'service_owner',
  serviceEpoch: 'service_epoch',
} as const;

export const COUNTER_NAMES = { dropReasons: 'drop_reasons' } as const;

/** Index of `drop_reasons` for each reason (docs/protocol.md §2, Registers). */
export const DropReason = {
  MALFORMED: 1,
  IPV4_CHECKSUM: 2,
  NOT_IPV4: 3,
  UNKNOWN_SENDER: 4,
  STALE_SEQUENCE: 5,
  TYPE_NOT_ACCEPTED: 6,
  NO_OWNER: 7,
  NO_LIVE_NODE: 8,
  NO_ROUTE: 9,
  NODE_NOT_IN_TABLE: 10,
} as const;
export type DropReasonCode = (typeof DropReason)[keyof typeof DropReason];
export const DROP_REASON_COUNT = 16;

export const DEFAULT_POLICY = {
  load_high_bp: 8000,
  load_low_bp: 5000,
  overload_reports: 3,
  liveness_reports: 64,
  liveness_timeout_us: 0,
} as const;

export const ACTIONS: readonly ActionDefinition[] = [
  { name: ACTION_NAMES.noAction, params: [] },
  {
    name: ACTION_NAMES.setNode,
    params: [
      { name: 'ipv4_addr', widthBits: 32 },
      { name: 'mac_addr', widthBits: 48 },
      { name: 'port', widthBits: 9 },
      { name: 'peer_node_id', widthBits: 16 },
      { name: 'offload_service_id', widthBits: 16 },
    ],
  },
  { name: ACTION_NAMES.steerToOwner, params: [{ name: 'service_id', widthBits: 16 }] },
  {
    name: ACTION_NAMES.balanceBetween,
    params: [
      { name: 'service_id', widthBits: 16 },
      { name: 'node_a', widthBits: 16 },
      { name: 'node_b', widthBits: 16 },
    ],
  },
  { name: ACTION_NAMES.setVipSource, params: [{ name: 'vip', widthBits: 32 }] },
  {
    name: ACTION_NAMES.ipv4Forward,
    params: [
      { name: 'dst_mac', widthBits: 48 },
      { name: 'port', widthBits: 9 },
    ],
  },
  { name: ACTION_NAMES.drop, params: [] },
  {
    name: ACTION_NAMES.setPolicy,
    params: [
      { name: 'load_high_bp', widthBits: 16 },
      { name: 'load_low_bp', widthBits: 16 },
      { name: 'overload_reports', widthBits: 8 },
      { name: 'liveness_reports', widthBits: 32 },
      { name: 'liveness_timeout_us', widthBits: 48 },
    ],
  },
];

const NO_ACTION = { action: ACTION_NAMES.noAction, params: {} };

export const TABLES: readonly TableDefinition[] = [
  {
    name: TABLE_NAMES.node,
    keys: [{ name: 'meta.node_id', matchKind: 'exact', widthBits: 16 }],
    actions: [ACTION_NAMES.setNode, ACTION_NAMES.noAction],
    defaultAction: NO_ACTION,
  },
  {
    name: TABLE_NAMES.service,
    keys: [
      { name: 'hdr.ipv4.dst_addr', matchKind: 'exact', widthBits: 32 },
      { name: 'hdr.udp.dst_port', matchKind: 'exact', widthBits: 16 },
    ],
    actions: [ACTION_NAMES.steerToOwner, ACTION_NAMES.balanceBetween, ACTION_NAMES.noAction],
    defaultAction: NO_ACTION,
  },
  {
    name: TABLE_NAMES.reply,
    keys: [
      { name: 'hdr.ipv4.src_addr', matchKind: 'exact', widthBits: 32 },
      { name: 'hdr.udp.src_port', matchKind: 'exact', widthBits: 16 },
    ],
    actions: [ACTION_NAMES.setVipSource, ACTION_NAMES.noAction],
    defaultAction: NO_ACTION,
  },
  {
    name: TABLE_NAMES.ipv4Lpm,
    keys: [{ name: 'hdr.ipv4.dst_addr', matchKind: 'lpm', widthBits: 32 }],
    actions: [ACTION_NAMES.ipv4Forward, ACTION_NAMES.drop],
    defaultAction: { action: ACTION_NAMES.drop, params: {} },
  },
  {
    name: TABLE_NAMES.policy,
    keys: [],
    actions: [ACTION_NAMES.setPolicy],
    defaultAction: { action: ACTION_NAMES.setPolicy, params: DEFAULT_POLICY },
  },
];

export interface RegisterDefinition {
  readonly name: string;
  readonly widthBits: number;
  readonly size: number;
  /** What the index means, for labels in the admin interface. */
  readonly indexedBy: 'node' | 'service' | 'none';
}

export const REGISTERS: readonly RegisterDefinition[] = [
  { name: REGISTER_NAMES.nodeCpuLoad, widthBits: 16, size: NODE_COUNT, indexedBy: 'node' },
  { name: REGISTER_NAMES.nodeMemLoad, widthBits: 16, size: NODE_COUNT, indexedBy: 'node' },
  { name: REGISTER_NAMES.nodeInflight, widthBits: 16, size: NODE_COUNT, indexedBy: 'node' },
  { name: REGISTER_NAMES.nodeLastSequence, widthBits: 32, size: NODE_COUNT, indexedBy: 'node' },
  { name: REGISTER_NAMES.nodeLastReportClock, widthBits: 32, size: NODE_COUNT, indexedBy: 'node' },
  { name: REGISTER_NAMES.nodeLastSeenUs, widthBits: 48, size: NODE_COUNT, indexedBy: 'node' },
  { name: REGISTER_NAMES.nodeOverloadStreak, widthBits: 8, size: NODE_COUNT, indexedBy: 'node' },
  { name: REGISTER_NAMES.metricsReportClock, widthBits: 32, size: 1, indexedBy: 'none' },
  { name: REGISTER_NAMES.serviceOwner, widthBits: 16, size: SERVICE_COUNT, indexedBy: 'service' },
  { name: REGISTER_NAMES.serviceEpoch, widthBits: 32, size: SERVICE_COUNT, indexedBy: 'service' },
];

export const COUNTERS: readonly { readonly name: string; readonly size: number }[] = [
  { name: COUNTER_NAMES.dropReasons, size: DROP_REASON_COUNT },
];

/**
 * Resolves a name the way p4c's BMv2 STF driver does: an exact match first, else the unique name that
 * ends with it; an ambiguous or unknown name is an error that lists the candidates.
 */
export function resolveName(kind: string, wanted: string, names: readonly string[]): string {
  if (names.includes(wanted)) return wanted;
  const candidates = names.filter((name) => name.endsWith(wanted));
  if (candidates.length === 1) return candidates[0]!;
  const detail =
    candidates.length === 0
      ? `no ${kind} named '${wanted}'; known: ${names.join(', ')}`
      : `${kind} name '${wanted}' is ambiguous between ${candidates.join(' and ')}`;
  throw new EdgeShiftError('ERR_DATAPLANE_UNKNOWN_NAME', detail, { context: { kind, name: wanted } });
}
