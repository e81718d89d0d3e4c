import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'mocha';
import { hasErrorCode } from '../../../components/common/errors.ts';
import { encodeHeader, headerOf, type EdgeShiftHeader } from '../../../p4/protocol/edgeshift-header.ts';
import { EDGESHIFT_UDP_PORT, PacketType } from '../../../p4/protocol/edgeshift-protocol.ts';
import { buildUdpFrame, ipv4HeaderChecksum, parseIpv4 } from '../../../p4/protocol/udp-frame.ts';
import { ReferencePipeline, type PipelineEvent } from '../../../p4/reference/pipeline.ts';
import { DropReason } from '../../../p4/reference/program.ts';

// Lab topology of these tests: node 1 on port 1 (10.0.1.1), node 2 on port 2 (10.0.2.1), clients
// behind port 3 (10.0.9.0/24), data plane 10.0.0.254; VIP 10.0.100.1:9101 stateful service 1,
// 10.0.100.1:9100 stateless service 2 balanced between nodes 1 and 2.
const SWITCH_MAC = '0a:00:00:00:00:fe';
const NODE = {
  1: { ip: '10.0.1.1', mac: '0a:00:00:00:01:01', macValue: 0x0a0000000101, port: 1 },
  2: { ip: '10.0.2.1', mac: '0a:00:00:00:02:01', macValue: 0x0a0000000201, port: 2 },
} as const;
const CLIENT = { ip: '10.0.9.9', mac: '0a:00:00:00:09:09', port: 3 };
const VIP = '10.0.100.1';

function labPipeline(events: PipelineEvent[] = []): ReferencePipeline {
  const pipeline = new ReferencePipeline({ onEvent: (event) => events.push(event) });
  for (const [id, peer] of [
    [1, 2],
    [2, 1],
  ] as const) {
    const node = NODE[id];
    pipeline.addEntry('node_table', { node_id: id }, 'set_node', {
      ipv4_addr: parseIpv4(node.ip),
      mac_addr: node.macValue,
      port: node.port,
      peer_node_id: peer,
      offload_service_id: 1,
    });
  }
  pipeline.addEntry('service_table', { dst_addr: parseIpv4(VIP), dst_port: 9101 }, 'steer_to_owner', {
    service_id: 1,
  });
  pipeline.addEntry('service_table', { dst_addr: parseIpv4(VIP), dst_port: 9100 }, 'balance_between', {
    service_id: 2,
    node_a: 1,
    node_b: 2,
  });
  pipeline.addEntry('reply_table', { src_addr: parseIpv4(NODE[1].ip), src_port: 9101 }, 'set_vip_source', {
    vip: parseIpv4(VIP),
  });
  pipeline.addEntry(
    'ipv4_lpm',
    { dst_addr: { kind: 'lpm', value: parseIpv4('10.0.9.0'), prefixLength: 24 } },
    'ipv4_forward',
    { dst_mac: 0x0a0000000909, port: 3 },
  );
  pipeline.setDefault('policy_table', 'set_policy', {
    load_high_bp: 8000,
    load_low_bp: 5000,
    overload_reports: 2,
    liveness_reports: 4,
    liveness_timeout_us: 0,
  });
  return pipeline;
}

const header = headerOf;

function controlFrame(nodeId: 1 | 2, fields: EdgeShiftHeader, srcIp: string = NODE[nodeId].ip): Buffer {
  return buildUdpFrame({
    srcMac: NODE[nodeId].mac,
    dstMac: SWITCH_MAC,
    srcIp,
    dstIp: '10.0.0.254',
    srcPort: 40000 + nodeId,
    dstPort: EDGESHIFT_UDP_PORT,
    payload: encodeHeader(fields),
  });
}

/** The spec's turn-around, built by hand: swapped addresses and ports, UDP checksum 0, TTL kept. */
function turnedAround(nodeId: 1 | 2, fields: EdgeShiftHeader): Buffer {
  return buildUdpFrame({
    srcMac: SWITCH_MAC,
    dstMac: NODE[nodeId].mac,
    srcIp: '10.0.0.254',
    dstIp: NODE[nodeId].ip,
    srcPort: EDGESHIFT_UDP_PORT,
    dstPort: 40000 + nodeId,
    payload: encodeHeader(fields),
    udpChecksum: 'zero',
  });
}

function metrics(pipeline: ReferencePipeline, nodeId: 1 | 2, sequence: number, loadBp: number) {
  const report = header({ type: PacketType.METRICS, nodeId, sequence, cpuLoadBp: loadBp, memLoadBp: 100 });
  return pipeline.process(controlFrame(nodeId, report), NODE[nodeId].port, 1n);
}

function claim(pipeline: ReferencePipeline, nodeId: 1 | 2, epoch: number) {
  const fields = header({ type: PacketType.CLAIM, nodeId, serviceId: 1, sequence: 77, epoch });
  return pipeline.process(controlFrame(nodeId, fields), NODE[nodeId].port, 1n);
}

function request(port: number, payload = 'req'): Buffer {
  return buildUdpFrame({
    srcMac: CLIENT.mac,
    dstMac: SWITCH_MAC,
    srcIp: CLIENT.ip,
    dstIp: VIP,
    srcPort: 5555,
    dstPort: port,
    payload: Buffer.from(payload),
  });
}

/** A request as steered to `nodeId`: MACs moved, destination rewritten, UDP checksum 0, TTL 63. */
function steered(nodeId: 1 | 2, port: number, payload = 'req'): Buffer {
  return buildUdpFrame({
    srcMac: SWITCH_MAC,
    dstMac: NODE[nodeId].mac,
    srcIp: CLIENT.ip,
    dstIp: NODE[nodeId].ip,
    srcPort: 5555,
    dstPort: port,
    payload: Buffer.from(payload),
    ttl: 63,
    udpChecksum: 'zero',
  });
}

function dropCount(pipeline: ReferencePipeline, reason: number): number {
  return pipeline.readCounter('drop_reasons', reason).packets;
}

describe('pipeline', () => {
  describe('METRICS', () => {
    it('stores the loads of an accepted report and consumes it', () => {
      const pipeline = labPipeline();
      assert.deepEqual(metrics(pipeline, 1, 10, 4200), [], 'a report with no advice produces nothing');
      assert.equal(pipeline.readRegister('node_cpu_load', 1), 4200, 'cpu load stored');
      assert.equal(pipeline.readRegister('node_mem_load', 1), 100, 'memory load stored');
      assert.equal(pipeline.readRegister('node_last_sequence', 1), 10, 'sequence stored');
      assert.equal(
        pipeline.readRegister('metrics_report_clock', 0),
        1,
        'report clock counts accepted reports',
      );
      assert.equal(
        pipeline.readRegister('node_last_report_clock', 1),
        1,
        'the node is stamped with the clock',
      );
    });

    it('drops a METRICS packet whose sequence number is not newer, serial arithmetic across the wrap', () => {
      const pipeline = labPipeline();
      metrics(pipeline, 1, 0xffff_fffe, 1000);
      metrics(pipeline, 1, 1, 2000);
      assert.equal(pipeline.readRegister('node_cpu_load', 1), 2000, '1 is newer than 0xfffffffe');
      metrics(pipeline, 1, 1, 3000);
      metrics(pipeline, 1, 0xffff_ffff, 3000);
      assert.equal(
        pipeline.readRegister('node_cpu_load', 1),
        2000,
        'replayed and older reports change nothing',
      );
      assert.equal(dropCount(pipeline, DropReason.STALE_SEQUENCE), 2, 'both counted as stale');
    });

    it('drops a report from a spoofed source address or the wrong port', () => {
      const pipeline = labPipeline();
      const report = header({ type: PacketType.METRICS, nodeId: 1, sequence: 1, cpuLoadBp: 9000 });
      assert.deepEqual(pipeline.process(controlFrame(1, report, '10.0.9.9'), 1, 1n), []);
      assert.deepEqual(pipeline.process(controlFrame(1, report), 2, 1n), []);
      assert.equal(dropCount(pipeline, DropReason.UNKNOWN_SENDER), 2, 'spoofed address and wrong port');
      assert.equal(pipeline.readRegister('node_cpu_load', 1), 0, 'nothing stored');
    });

    it('answers ADVICE after overload_reports overloaded reports while the peer is live and under the low threshold', () => {
      const events: PipelineEvent[] = [];
      const pipeline = labPipeline(events);
      claim(pipeline, 1, 5);
      metrics(pipeline, 2, 1, 3000);
      assert.deepEqual(metrics(pipeline, 1, 1, 9000), [], 'streak 1 of 2: no advice yet');
      const outputs = metrics(pipeline, 1, 2, 9000);
      const expected = turnedAround(
        1,
        header({
          type: PacketType.ADVICE,
          nodeId: 1,
          serviceId: 1,
          sequence: 2,
          epoch: 5,
          cpuLoadBp: 3000,
          memLoadBp: 100,
          targetNodeId: 2,
        }),
      );
      assert.deepEqual(
        outputs,
        [{ port: 1, frame: expected }],
        'ADVICE turned around to node 1, exact bytes',
      );
      assert.equal(pipeline.readRegister('node_overload_streak', 1), 0, 'sending resets the streak');
      assert.deepEqual(
        events.filter((event) => event.kind === 'advice'),
        [
          {
            kind: 'advice',
            nodeId: 1,
            serviceId: 1,
            targetNodeId: 2,
            epoch: 5,
            sequence: 2,
            nodeLoadBp: 9000,
            targetLoadBp: 3000,
          },
        ],
      );
    });

    it('gives no advice when the peer stopped reporting for more than liveness_reports reports', () => {
      const pipeline = labPipeline();
      claim(pipeline, 1, 5);
      metrics(pipeline, 2, 1, 3000);
      for (let sequence = 1; sequence <= 5; sequence += 1) metrics(pipeline, 1, sequence, 1000);
      assert.deepEqual(metrics(pipeline, 1, 6, 9000), []);
      assert.deepEqual(metrics(pipeline, 1, 7, 9000), [], 'peer is 6 reports behind, liveness_reports is 4');
    });

    it('gives no advice when the reporter does not own the offload service', () => {
      const pipeline = labPipeline();
      metrics(pipeline, 2, 1, 3000);
      metrics(pipeline, 1, 1, 9000);
      assert.deepEqual(metrics(pipeline, 1, 2, 9000), [], 'service 1 has no owner');
    });
  });

  describe('CLAIM', () => {
    it('accepts a newer epoch, answers CLAIM_ACCEPTED and answers a replay with CLAIM_STALE', () => {
      const pipeline = labPipeline();
      const accepted = claim(pipeline, 1, 1);
      const answer = (type: number, owner: number, epoch: number) =>
        header({
          type: type as EdgeShiftHeader['type'],
          nodeId: 1,
          serviceId: 1,
          sequence: 77,
          epoch,
          targetNodeId: owner,
        });
      assert.deepEqual(accepted, [
        { port: 1, frame: turnedAround(1, answer(PacketType.CLAIM_ACCEPTED, 1, 1)) },
      ]);
      assert.equal(claim(pipeline, 2, 2)[0]?.frame[45], PacketType.CLAIM_ACCEPTED, 'epoch 2 moves the owner');
      const stale = claim(pipeline, 1, 2);
      assert.deepEqual(stale, [{ port: 1, frame: turnedAround(1, answer(PacketType.CLAIM_STALE, 2, 2)) }]);
      assert.equal(pipeline.readRegister('service_owner', 1), 2, 'a stale claim leaves the owner');
    });

    it('drops ADVICE and answer types sent by a node', () => {
      const pipeline = labPipeline();
      const fields = header({ type: PacketType.ADVICE, nodeId: 1, serviceId: 1 });
      assert.deepEqual(pipeline.process(controlFrame(1, fields), 1, 1n), []);
      assert.equal(dropCount(pipeline, DropReason.TYPE_NOT_ACCEPTED), 1);
    });
  });

  describe('requests and replies', () => {
    it('steers a stateful request to the owner and follows a CLAIM', () => {
      const pipeline = labPipeline();
      assert.deepEqual(pipeline.process(request(9101), 3, 1n), [], 'no owner yet');
      assert.equal(dropCount(pipeline, DropReason.NO_OWNER), 1);
      claim(pipeline, 1, 1);
      assert.deepEqual(pipeline.process(request(9101), 3, 1n), [{ port: 1, frame: steered(1, 9101) }]);
      claim(pipeline, 2, 2);
      assert.deepEqual(pipeline.process(request(9101), 3, 1n), [{ port: 2, frame: steered(2, 9101) }]);
    });

    it('balances a stateless request to the less loaded live node, node_a on a tie', () => {
      const pipeline = labPipeline();
      assert.deepEqual(pipeline.process(request(9100), 3, 1n), [], 'no live node');
      assert.equal(dropCount(pipeline, DropReason.NO_LIVE_NODE), 1);
      metrics(pipeline, 2, 1, 4000);
      assert.equal(pipeline.process(request(9100), 3, 1n)[0]?.port, 2, 'only node 2 is live');
      metrics(pipeline, 1, 1, 4000);
      assert.equal(pipeline.process(request(9100), 3, 1n)[0]?.port, 1, 'tie goes to node_a');
      metrics(pipeline, 1, 2, 6000);
      assert.deepEqual(pipeline.process(request(9100), 3, 1n), [{ port: 2, frame: steered(2, 9100) }]);
    });

    it('gives a reply from a service the VIP as source and forwards it by LPM', () => {
      const pipeline = labPipeline();
      const reply = buildUdpFrame({
        srcMac: NODE[1].mac,
        dstMac: SWITCH_MAC,
        srcIp: NODE[1].ip,
        dstIp: CLIENT.ip,
        srcPort: 9101,
        dstPort: 5555,
        payload: Buffer.from('ok'),
      });
      const expected = buildUdpFrame({
        srcMac: SWITCH_MAC,
        dstMac: CLIENT.mac,
        srcIp: VIP,
        dstIp: CLIENT.ip,
        srcPort: 9101,
        dstPort: 5555,
        payload: Buffer.from('ok'),
        ttl: 63,
        udpChecksum: 'zero',
      });
      assert.deepEqual(pipeline.process(reply, 1, 1n), [{ port: 3, frame: expected }]);
    });

    it('forwards a packet with TTL 0 with TTL 255: bit<8> arithmetic, no TTL check', () => {
      const pipeline = labPipeline();
      const spec = {
        srcMac: NODE[2].mac,
        dstMac: SWITCH_MAC,
        srcIp: NODE[2].ip,
        dstIp: CLIENT.ip,
        srcPort: 1,
        dstPort: 2,
        payload: Buffer.from('x'),
      };
      const outputs = pipeline.process(buildUdpFrame({ ...spec, ttl: 0 }), 2, 1n);
      const expected = buildUdpFrame({ ...spec, srcMac: SWITCH_MAC, dstMac: CLIENT.mac, ttl: 255 });
      assert.deepEqual(outputs, [{ port: 3, frame: expected }]);
    });

    it('drops a packet with no route and counts it', () => {
      const pipeline = labPipeline();
      const frame = buildUdpFrame({
        ...CLIENT,
        srcMac: CLIENT.mac,
        dstMac: SWITCH_MAC,
        srcIp: CLIENT.ip,
        dstIp: '192.0.2.1',
        srcPort: 1,
        dstPort: 2,
        payload: Buffer.alloc(0),
      });
      assert.deepEqual(pipeline.process(frame, 3, 1n), []);
      assert.equal(dropCount(pipeline, DropReason.NO_ROUTE), 1);
    });
  });

  describe('malformed packets', () => {
    const good = () => controlFrame(1, header({ type: PacketType.METRICS, nodeId: 1, sequence: 1 }));
    const cases: { name: string; frame: () => Buffer; reason: number }[] = [
      { name: 'bad magic', frame: () => withByte(good(), 42, 0x00), reason: DropReason.MALFORMED },
      { name: 'bad version', frame: () => withByte(good(), 44, 9), reason: DropReason.MALFORMED },
      { name: 'bad type', frame: () => withByte(good(), 45, 9), reason: DropReason.MALFORMED },
      { name: 'node id 0', frame: () => withByte(good(), 47, 0), reason: DropReason.MALFORMED },
      { name: 'truncated header', frame: () => good().subarray(0, 60), reason: DropReason.MALFORMED },
      {
        name: 'bad IPv4 checksum',
        frame: () => withByte(good(), 25, good()[25]! ^ 1),
        reason: DropReason.IPV4_CHECKSUM,
      },
      { name: 'not IPv4', frame: () => withByte(good(), 12, 0x86), reason: DropReason.NOT_IPV4 },
      { name: 'runt frame', frame: () => Buffer.alloc(10), reason: DropReason.MALFORMED },
    ];
    for (const { name, frame, reason } of cases) {
      it(`drops a frame with ${name} and counts reason ${reason}`, () => {
        const pipeline = labPipeline();
        assert.deepEqual(pipeline.process(frame(), 1, 1n), []);
        assert.equal(dropCount(pipeline, reason), 1, `drop_reasons[${reason}]`);
      });
    }

    it('drops an IPv4 packet with options as a checksum error: the check covers the 20-byte header only', () => {
      const plain = request(9101);
      // IHL 6 with one 4-byte option (NOPs), total length + 4, checksum correct over all 24 bytes.
      const frame = Buffer.concat([plain.subarray(0, 34), Buffer.from([1, 1, 1, 1]), plain.subarray(34)]);
      frame[14] = 0x46;
      frame.writeUInt16BE(plain.readUInt16BE(16) + 4, 16);
      frame.writeUInt16BE(0, 24);
      frame.writeUInt16BE(ipv4HeaderChecksum24(frame.subarray(14, 38)), 24);
      const pipeline = labPipeline();
      assert.deepEqual(pipeline.process(frame, 3, 1n), []);
      assert.equal(dropCount(pipeline, DropReason.IPV4_CHECKSUM), 1, 'dropped as reason 2, as BMv2 does');
    });

    it('drops a frame whose UDP length is not 32 (checksums kept valid)', () => {
      const frame = good();
      frame.writeUInt16BE(33, 38);
      assert.deepEqual(labPipeline().process(frame, 1, 1n), []);
    });
  });

  describe('control plane', () => {
    it('reads 0 and ignores writes outside a register (p4include/v1model.p4)', () => {
      const pipeline = labPipeline();
      pipeline.writeRegister('service_owner', 64, 3);
      assert.equal(pipeline.readRegister('service_owner', 64), 0);
      pipeline.writeRegister('node_overload_streak', 1, 256);
      assert.equal(pipeline.readRegister('node_overload_streak', 1), 0, 'values wrap to the register width');
    });

    it('refuses an entry with a duplicate key, a missing parameter or an unknown action', () => {
      const pipeline = labPipeline();
      const attempts = [
        () =>
          pipeline.addEntry('service_table', { dst_addr: parseIpv4(VIP), dst_port: 9101 }, 'steer_to_owner', {
            service_id: 3,
          }),
        () => pipeline.addEntry('node_table', { node_id: 3 }, 'set_node', { ipv4_addr: 1 }),
        () => pipeline.addEntry('node_table', { node_id: 3 }, 'ipv4_forward', { dst_mac: 1, port: 1 }),
      ];
      for (const attempt of attempts) {
        assert.throws(
          attempt,
          (err: unknown) =>
            hasErrorCode(err, 'ERR_DATAPLANE_BAD_ENTRY') || hasErrorCode(err, 'ERR_DATAPLANE_UNKNOWN_NAME'),
        );
      }
    });
  });

  describe('process on random frames', () => {
    it('never throws and never outputs on a port outside the tables or the ingress port', () => {
      const knownPorts = new Set([1, 2, 3]);
      const frames = fc.oneof(
        fc.uint8Array({ maxLength: 120 }),
        fc
          .tuple(
            fc.constantFrom(request(9101), request(9100), good()),
            fc.array(fc.tuple(fc.nat(80), fc.nat(255))),
          )
          .map(([base, edits]) => {
            const copy = Buffer.from(base);
            for (const [offset, value] of edits) if (offset < copy.length) copy[offset] = value;
            return copy;
          }),
      );
      const pipeline = labPipeline();
      claim(pipeline, 1, 1);
      metrics(pipeline, 2, 1, 100);
      fc.assert(
        fc.property(frames, fc.integer({ min: 0, max: 511 }), (frame, ingressPort) => {
          for (const output of pipeline.process(frame, ingressPort, 5n)) {
            assert.ok(
              knownPorts.has(output.port) || output.port === ingressPort,
              `output on port ${output.port}`,
            );
          }
        }),
        { numRuns: 5000 },
      );
    });
  });
});

function good(): Buffer {
  return controlFrame(1, header({ type: PacketType.METRICS, nodeId: 1, sequence: 1 }));
}

/** Sets one byte and recomputes the IPv4 checksum unless the byte is the checksum itself. */
function withByte(frame: Buffer, offset: number, value: number): Buffer {
  frame[offset] = value;
  if (offset !== 24 && offset !== 25 && offset >= 14 && offset < 34) {
    frame.writeUInt16BE(ipv4HeaderChecksum(frame.subarray(14, 34)), 24);
  }
  return frame;
}

/** RFC 1071 checksum over a whole IPv4 header of any length (the shared helper covers 20 bytes). */
function ipv4HeaderChecksum24(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
