// STF cases for the metrics path (docs/protocol.md §2, TrackNodeLoad and DecideOffloadAdvice):
// authentication of reports, stale and replayed sequence numbers with serial-arithmetic wrap, the
// overload streak, and each condition of ADVICE. The cases run in order on one switch: comments
// track metrics_report_clock ("clock"), each node's last report clock and its overload streak.
import { PacketType } from '../../protocol/edgeshift-protocol.ts';
import type { EdgeShiftHeader } from '../../protocol/edgeshift-header.ts';
import {
  answerFrame,
  claim,
  controlFrame,
  header,
  metrics,
  nodeTableAdd,
  NODE_A,
  NODE_B,
  policySetDefault,
  SENSOR_STATS,
  UPLINK_HOST,
  type LabNode,
} from './lab-network.ts';
import type { StfCase, StfDocument } from './stf-document.ts';

const POLICY = { loadHighBp: 8000, loadLowBp: 5000, overloadReports: 3, livenessReports: 2 } as const;
const SERVICE = SENSOR_STATS.serviceId;

/** A report that is accepted (or dropped) with nothing coming out. */
function silentReport(
  title: string,
  built: string[],
  node: LabNode,
  report: EdgeShiftHeader,
  port = node.port,
): StfCase {
  return { title, built, packets: [{ port, frame: controlFrame(node, report) }], expects: [] };
}

/** ADVICE: the report turned around, type ADVICE, with the service, its epoch and the peer's loads. */
function adviceCase(
  title: string,
  built: string[],
  report: EdgeShiftHeader,
  peer: { cpuLoadBp: number; memLoadBp: number; inflightRequests: number },
  epoch: number,
): StfCase {
  const advice = header(PacketType.ADVICE, NODE_A.nodeId, {
    serviceId: SERVICE,
    sequence: report.sequence,
    epoch,
    ...peer,
    targetNodeId: NODE_A.peerNodeId,
  });
  return {
    title,
    built: [
      ...built,
      'Expected: the report turned around (Ethernet/IPv4/UDP swapped, TTL kept, UDP checksum 0) with',
      'encodeHeader(ADVICE node 1, service 1, target 2, epoch in force, loads of node 2, sequence echoed).',
    ],
    packets: [{ port: NODE_A.port, frame: controlFrame(NODE_A, report) }],
    expects: [{ port: NODE_A.port, frame: answerFrame(NODE_A, advice) }],
  };
}

const seedClaim = claim(NODE_A.nodeId, SERVICE, 1, 77);
const firstAdviceReport = metrics(NODE_A.nodeId, 1002, 8500, 9100, 40);
const secondAdviceReport = metrics(NODE_A.nodeId, 1007, 9000, 3000, 41);

const cases: StfCase[] = [
  {
    title: 'CLAIM seeds the ownership the advice cases need: node 1 owns service 1 at epoch 1.',
    built: [
      'Packet: encodeHeader(CLAIM node 1, service 1, epoch 1, sequence 77) in UDP from node-a to the data plane.',
      'Expected: turned around as CLAIM_ACCEPTED with target_node_id 1 (owner) and epoch 1.',
    ],
    packets: [{ port: NODE_A.port, frame: controlFrame(NODE_A, seedClaim) }],
    expects: [
      {
        port: NODE_A.port,
        frame: answerFrame(NODE_A, {
          ...seedClaim,
          type: PacketType.CLAIM_ACCEPTED,
          targetNodeId: NODE_A.nodeId,
        }),
      },
    ],
  },
  silentReport(
    'METRICS from a known node is accepted and consumed: nothing comes out (clock 1, node 2 last 1).',
    [
      'Packet: encodeHeader(METRICS node 2, sequence 0xfffffffe, cpu 2000, mem 1500, inflight 3) from node-b.',
    ],
    NODE_B,
    metrics(NODE_B.nodeId, 0xfffffffe, 2000, 1500, 3),
  ),
  silentReport(
    'METRICS from a node id with no node_table entry is dropped (unknown sender).',
    ["Packet: encodeHeader(METRICS node 9, sequence 1, cpu 9000) from node-a's addresses and port."],
    NODE_A,
    metrics(9, 1, 9000, 0),
  ),
  {
    title: 'METRICS for node 1 with another source IPv4 address is dropped (spoofed sender).',
    built: [
      "Packet: encodeHeader(METRICS node 1, sequence 500, cpu 9000) from node-a's port, IPv4 source 10.0.2.2.",
    ],
    packets: [
      {
        port: NODE_A.port,
        frame: controlFrame(NODE_A, metrics(NODE_A.nodeId, 500, 9000, 0), { srcIpv4: NODE_B.ipv4 }),
      },
    ],
    expects: [],
  },
  silentReport(
    'METRICS for node 1 arriving on the uplink port 0 is dropped (spoofed sender); naming port 0 also watches it, the port a packet with no egress decision would leave by.',
    ["Packet: node-a's own report, encodeHeader(METRICS node 1, sequence 500, cpu 9000), sent into port 0."],
    NODE_A,
    metrics(NODE_A.nodeId, 500, 9000, 0),
    UPLINK_HOST.port,
  ),
  silentReport(
    'First overloaded report of node 1: accepted, streak 1, consumed (clock 2, node 1 last 2).',
    ['Packet: encodeHeader(METRICS node 1, sequence 1000, cpu 9000, mem 4000).'],
    NODE_A,
    metrics(NODE_A.nodeId, 1000, 9000, 4000),
  ),
  silentReport(
    'Replayed report (same sequence 1000) is dropped as stale; the streak does not move.',
    ['Packet: the previous packet again.'],
    NODE_A,
    metrics(NODE_A.nodeId, 1000, 9000, 4000),
  ),
  silentReport(
    'Older report (sequence 999 < 1000) is dropped as stale.',
    ['Packet: encodeHeader(METRICS node 1, sequence 999, cpu 9000, mem 4000).'],
    NODE_A,
    metrics(NODE_A.nodeId, 999, 9000, 4000),
  ),
  silentReport(
    'Node 2 sequence 0xffffffff after 0xfffffffe is newer: accepted (clock 3, node 2 last 3).',
    ['Packet: encodeHeader(METRICS node 2, sequence 0xffffffff, cpu 2000, mem 1500, inflight 3).'],
    NODE_B,
    metrics(NODE_B.nodeId, 0xffffffff, 2000, 1500, 3),
  ),
  silentReport(
    'Node 1 overloaded again: streak 2, below overload_reports 3, so no advice (clock 4).',
    ['Packet: encodeHeader(METRICS node 1, sequence 1001, cpu 9000, mem 4000).'],
    NODE_A,
    metrics(NODE_A.nodeId, 1001, 9000, 4000),
  ),
  silentReport(
    'Node 2 sequence 1 after 0xffffffff wraps around and is newer: accepted (clock 5, node 2 last 5).',
    ['Packet: encodeHeader(METRICS node 2, sequence 1, cpu 2500, mem 1000, inflight 7).'],
    NODE_B,
    metrics(NODE_B.nodeId, 1, 2500, 1000, 7),
  ),
  silentReport(
    'Node 2 sequence 0x80000001 is 2^31 after 1: not newer in serial arithmetic, dropped as stale.',
    ['Packet: encodeHeader(METRICS node 2, sequence 0x80000001, cpu 9999, mem 9999).'],
    NODE_B,
    metrics(NODE_B.nodeId, 0x80000001, 9999, 9999),
  ),
  adviceCase(
    'Third overloaded report (load = max(cpu 8500, mem 9100)): streak 3, peer live (clock 6 - 5 <= 2) at load 2500 <= 5000, node 1 owns service 1: ADVICE.',
    ['Packet: encodeHeader(METRICS node 1, sequence 1002, cpu 8500, mem 9100, inflight 40).'],
    firstAdviceReport,
    { cpuLoadBp: 2500, memLoadBp: 1000, inflightRequests: 7 },
    1,
  ),
  silentReport(
    'The advice reset the streak: the next overloaded report counts 1 again, no advice (clock 7).',
    ['Packet: encodeHeader(METRICS node 1, sequence 1003, cpu 9000, mem 3000).'],
    NODE_A,
    metrics(NODE_A.nodeId, 1003, 9000, 3000),
  ),
  silentReport(
    'Streak 2 (clock 8).',
    ['Packet: encodeHeader(METRICS node 1, sequence 1004, cpu 9000, mem 3000).'],
    NODE_A,
    metrics(NODE_A.nodeId, 1004, 9000, 3000),
  ),
  silentReport(
    'Streak 3, but the peer is not live: its last report is 9 - 5 = 4 > liveness_reports 2 reports old. No advice.',
    ['Packet: encodeHeader(METRICS node 1, sequence 1005, cpu 9000, mem 3000).'],
    NODE_A,
    metrics(NODE_A.nodeId, 1005, 9000, 3000),
  ),
  silentReport(
    'Node 2 reports load 6000: live again, but above load_low_bp (clock 10, node 2 last 10).',
    ['Packet: encodeHeader(METRICS node 2, sequence 2, cpu 6000, mem 1000, inflight 9).'],
    NODE_B,
    metrics(NODE_B.nodeId, 2, 6000, 1000, 9),
  ),
  silentReport(
    'Streak 4 with a live peer whose load 6000 > load_low_bp 5000: peer too loaded, no advice (clock 11).',
    ['Packet: encodeHeader(METRICS node 1, sequence 1006, cpu 9000, mem 3000).'],
    NODE_A,
    metrics(NODE_A.nodeId, 1006, 9000, 3000),
  ),
  silentReport(
    'Node 2 reports load 5000, exactly load_low_bp (clock 12, node 2 last 12).',
    ['Packet: encodeHeader(METRICS node 2, sequence 3, cpu 5000, mem 4000, inflight 11).'],
    NODE_B,
    metrics(NODE_B.nodeId, 3, 5000, 4000, 11),
  ),
  adviceCase(
    'Streak 5 (the streak went on counting while no advice was sent), peer load 5000 <= 5000: ADVICE.',
    ['Packet: encodeHeader(METRICS node 1, sequence 1007, cpu 9000, mem 3000, inflight 41).'],
    secondAdviceReport,
    { cpuLoadBp: 5000, memLoadBp: 4000, inflightRequests: 11 },
    1,
  ),
  silentReport(
    'Node 1 reports a low load 1000 (clock 14, node 1 last 14, streak 0).',
    ['Packet: encodeHeader(METRICS node 1, sequence 1008, cpu 1000, mem 1000).'],
    NODE_A,
    metrics(NODE_A.nodeId, 1008, 1000, 1000),
  ),
  silentReport(
    'Node 2 overloaded (load exactly load_high_bp 8000 counts): streak 1 (clock 15).',
    ['Packet: encodeHeader(METRICS node 2, sequence 4, cpu 8000, mem 1000).'],
    NODE_B,
    metrics(NODE_B.nodeId, 4, 8000, 1000),
  ),
  silentReport(
    'Node 2 overloaded: streak 2 (clock 16).',
    ['Packet: encodeHeader(METRICS node 2, sequence 5, cpu 9500, mem 1000).'],
    NODE_B,
    metrics(NODE_B.nodeId, 5, 9500, 1000),
  ),
  silentReport(
    'Node 1 reports again so that it is live for the next case (clock 17, node 1 last 17).',
    ['Packet: encodeHeader(METRICS node 1, sequence 1009, cpu 1000, mem 1000).'],
    NODE_A,
    metrics(NODE_A.nodeId, 1009, 1000, 1000),
  ),
  silentReport(
    'Node 2 streak 3 with live peer node 1 at load 1000, but service 1 is owned by node 1, not the reporter: no advice.',
    ['Packet: encodeHeader(METRICS node 2, sequence 6, cpu 9500, mem 1000).'],
    NODE_B,
    metrics(NODE_B.nodeId, 6, 9500, 1000),
  ),
];

export const metricsAndAdviceStf: StfDocument = {
  fileName: 'metrics-and-advice.stf',
  summary: [
    'Metrics path: TrackNodeLoad and DecideOffloadAdvice (docs/protocol.md §2).',
    'Lab network (p4/control-plane/lab.yaml): node-a id 1 10.0.1.1 port 1, node-b id 2 10.0.2.2 port 2,',
    'data plane 10.0.0.254 UDP 7700; both nodes have each other as peer and service 1 to offload.',
    'Policy: load_high_bp 8000, load_low_bp 5000, overload_reports 3, liveness_reports 2, no timeout.',
    'Cases run in order; "clock" is metrics_report_clock[0] after the case.',
  ],
  setup: [nodeTableAdd(NODE_A), nodeTableAdd(NODE_B), policySetDefault(POLICY)],
  cases,
  closing: {
    comment:
      'Drops by reason: 3 unknown or spoofed senders (4), 3 stale sequences (5); consumed reports are not counted.',
    lines: [
      'wait',
      'check_counter drop_reasons(4) packets == 3',
      'check_counter drop_reasons(5) packets == 3',
    ],
  },
};
