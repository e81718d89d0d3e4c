import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { createLogger } from '../../../components/common/logger.ts';
import { encodeHeader, headerOf } from '../../../p4/protocol/edgeshift-header.ts';
import { PacketType } from '../../../p4/protocol/edgeshift-protocol.ts';
import { buildUdpFrame, parseIpv4 } from '../../../p4/protocol/udp-frame.ts';
import { DecisionLog } from '../../../p4/reference/decision-log.ts';
import { ReferencePipeline } from '../../../p4/reference/pipeline.ts';

function claimFrame(epoch: number): Buffer {
  return buildUdpFrame({
    srcMac: '02:00:00:00:00:0b',
    dstMac: '02:00:00:00:00:0a',
    srcIp: '10.0.1.1',
    dstIp: '10.0.0.254',
    srcPort: 4000,
    dstPort: 7700,
    payload: encodeHeader({
      type: PacketType.CLAIM,
      nodeId: 1,
      serviceId: 1,
      sequence: 1,
      epoch,
      cpuLoadBp: 0,
      memLoadBp: 0,
      inflightRequests: 0,
      targetNodeId: 0,
    }),
  });
}

describe('decision-log', () => {
  it('logs each CLAIM decision and a summary of node loads after reports', () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger('test', {
      level: 'info',
      sink: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
    });
    const pipeline = new ReferencePipeline();
    pipeline.addEntry('node_table', { node_id: 1 }, 'set_node', {
      ipv4_addr: parseIpv4('10.0.1.1'),
      mac_addr: 0x02000000000b,
      port: 1,
      peer_node_id: 0,
      offload_service_id: 0,
    });
    const log = new DecisionLog(pipeline, {
      logger,
      labels: { nodes: new Map([[1, 'node-a']]), services: new Map([[1, 'stats']]) },
      nowUs: () => 0n,
      summaryIntervalMs: 3_600_000,
    });
    log.start();
    pipeline.process(claimFrame(4), 1, 0n);
    pipeline.process(claimFrame(4), 1, 0n);
    pipeline.process(claimFrame(3), 1, 0n);
    log.logSummary();
    const metrics = buildUdpFrame({
      srcMac: '02:00:00:00:00:0b',
      dstMac: '02:00:00:00:00:0a',
      srcIp: '10.0.1.1',
      dstIp: '10.0.0.254',
      srcPort: 4000,
      dstPort: 7700,
      payload: encodeHeader(
        headerOf({
          type: PacketType.METRICS,
          nodeId: 1,
          sequence: 5,
          cpuLoadBp: 1234,
          memLoadBp: 10,
          inflightRequests: 2,
        }),
      ),
    });
    pipeline.process(metrics, 1, 0n);
    log.logSummary();
    log.stop();
    pipeline.process(claimFrame(5), 1, 0n);
    assert.deepEqual(
      lines.map((line) => line.message),
      ['CLAIM accepted', 'CLAIM repeated by the owner', 'CLAIM stale', 'node loads'],
      'three decisions, no summary before a report, one after; nothing once stopped',
    );
    assert.deepEqual([lines[0]?.node, lines[0]?.service, lines[0]?.epochInForce], ['node-a', 'stats', 4]);
    assert.deepEqual(lines[3]?.nodes, [
      {
        nodeId: 1,
        name: 'node-a',
        cpuLoadBp: 1234,
        memLoadBp: 10,
        inflightRequests: 2,
        isLive: true,
        overloadStreak: 0,
      },
    ]);
  });
});
