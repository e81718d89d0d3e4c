// The single source of truth of the EdgeShift wire protocol: UDP port, magic, version, packet types,
// the header's field layout, fixed-point scale and register sizes. The P4 program includes
// p4/include/edgeshift_protocol.p4, generated from this module by scripts/generate-p4-protocol.ts;
// a test fails when the two drift apart. The codec (edgeshift-header.ts) reads the layout from here.

/** UDP destination port on which the data plane intercepts EdgeShift control packets. */
export const EDGESHIFT_UDP_PORT = 7700;
export const EDGESHIFT_MAGIC = 0xe5f7;
export const EDGESHIFT_VERSION = 1;

export const PacketType = {
  /** node → data plane: the node's smoothed CPU and memory load. */
  METRICS: 1,
  /** data plane → node: offload service `serviceId` to node `targetNodeId`. */
  ADVICE: 2,
  /** node → data plane: "I own service `serviceId` at `epoch`". */
  CLAIM: 3,
  /** data plane → node: the CLAIM was newer than the service's epoch and is now in force. */
  CLAIM_ACCEPTED: 4,
  /** data plane → node: the CLAIM's epoch was not newer; `targetNodeId`/`epoch` give the owner in force. */
  CLAIM_STALE: 5,
} as const;
export type PacketTypeName = keyof typeof PacketType;
export type PacketTypeCode = (typeof PacketType)[PacketTypeName];

/** Loads are fixed point in basis points: 10000 = 100.00 % of the node's capacity. */
export const LOAD_SCALE_BP = 10_000;

/** Register sizes of the data plane; node ids are 1..NODE_COUNT-1, service ids 1..SERVICE_COUNT-1 (0 = none). */
export const NODE_COUNT = 16;
export const SERVICE_COUNT = 64;

export interface HeaderField {
  /** Name in the P4 header type (snake_case) and in the TypeScript header (camelCase). */
  readonly p4Name: string;
  readonly tsName: string;
  readonly bits: 8 | 16 | 32;
  readonly meaning: string;
}

/** The EdgeShift header, in wire order, network byte order, right after the UDP header. */
export const HEADER_LAYOUT: readonly HeaderField[] = [
  { p4Name: 'magic', tsName: 'magic', bits: 16, meaning: 'EDGESHIFT_MAGIC' },
  { p4Name: 'version', tsName: 'version', bits: 8, meaning: 'EDGESHIFT_VERSION' },
  { p4Name: 'packet_type', tsName: 'type', bits: 8, meaning: 'one of PacketType' },
  {
    p4Name: 'node_id',
    tsName: 'nodeId',
    bits: 16,
    meaning: 'sender (METRICS, CLAIM) or addressee (ADVICE, answers)',
  },
  {
    p4Name: 'service_id',
    tsName: 'serviceId',
    bits: 16,
    meaning: 'service concerned (ADVICE, CLAIM, answers), else 0',
  },
  {
    p4Name: 'sequence',
    tsName: 'sequence',
    bits: 32,
    meaning: 'per-sender sequence number (serial arithmetic)',
  },
  {
    p4Name: 'epoch',
    tsName: 'epoch',
    bits: 32,
    meaning: 'ownership epoch of the service (CLAIM, ADVICE, answers)',
  },
  {
    p4Name: 'cpu_load_bp',
    tsName: 'cpuLoadBp',
    bits: 16,
    meaning: 'CPU load, basis points (ADVICE: of the target)',
  },
  {
    p4Name: 'mem_load_bp',
    tsName: 'memLoadBp',
    bits: 16,
    meaning: 'memory load, basis points (ADVICE: of the target)',
  },
  { p4Name: 'inflight_requests', tsName: 'inflightRequests', bits: 16, meaning: 'requests in progress' },
  {
    p4Name: 'target_node_id',
    tsName: 'targetNodeId',
    bits: 16,
    meaning: 'ADVICE: offload target; answers: owner in force',
  },
];

export const HEADER_BYTES = HEADER_LAYOUT.reduce((sum, field) => sum + field.bits / 8, 0);

/** Ethernet + IPv4 (no options) + UDP + EdgeShift header. */
export const ETHERNET_HEADER_BYTES = 14;
export const IPV4_HEADER_BYTES = 20;
export const UDP_HEADER_BYTES = 8;
export const ETHERTYPE_IPV4 = 0x0800;
export const IP_PROTOCOL_UDP = 17;
