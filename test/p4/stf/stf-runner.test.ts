import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { comparePacket, formatStfReport, runStf, runStfFile } from '../../../p4/stf/stf-runner.ts';
import { parseStf } from '../../../p4/stf/stf-parser.ts';
import { ReferencePipeline } from '../../../p4/reference/pipeline.ts';

const FIXTURES = 'test/fixtures/stf';

describe('stf-runner', () => {
  describe('runStfFile', () => {
    it('passes a file whose answers, forwarded packets, drops and counters match', async () => {
      const result = await runStfFile(`${FIXTURES}/pass.stf`);
      assert.deepEqual(result.failures, [], formatStfReport(result));
      assert.equal(result.isPassed, true, 'a matching file must pass');
      assert.equal(result.packetCount, 3, 'three packet lines are fed');
      assert.equal(result.expectCount, 2, 'two expect lines are read');
    });

    it('fails on wrong bytes and names the line and the first differing byte', async () => {
      const result = await runStfFile(`${FIXTURES}/wrong-bytes.stf`);
      assert.equal(result.isPassed, false, 'a TTL that was not decremented must not match');
      assert.equal(result.failures.length, 1, formatStfReport(result));
      assert.match(result.failures[0]!, /wrong-bytes\.stf:6: packet 0 on port 2 .* differs at byte 22 /);
      assert.match(
        result.failures[0]!,
        /expected 0A 00 00 00 02 02 .* 40 11 5C BF/,
        'the report shows the expected hex',
      );
      assert.match(
        result.failures[0]!,
        /actual {3}0A 00 00 00 02 02 .* 3F 11 5C BF/,
        'the report shows the actual hex',
      );
    });

    it('fails when the packet leaves by another port than expected', async () => {
      const result = await runStfFile(`${FIXTURES}/wrong-port.stf`);
      assert.equal(result.isPassed, false, 'nothing came out on port 4');
      assert.deepEqual(
        result.failures.map((failure) => failure.split(':').slice(0, 3).join(':')),
        [`${FIXTURES}/wrong-port.stf:6: expected packet on port 4 did not come out`],
        formatStfReport(result),
      );
    });

    it('fails when an expected packet is missing', async () => {
      const result = await runStfFile(`${FIXTURES}/missing-packet.stf`);
      assert.equal(result.isPassed, false, 'one CLAIM gives one answer, not two');
      assert.equal(result.failures.length, 1, formatStfReport(result));
      assert.match(result.failures[0]!, /missing-packet\.stf:7: expected packet on port 1 did not come out/);
    });

    it('fails on an extra packet on a watched port and points at the packet line that produced it', async () => {
      const result = await runStfFile(`${FIXTURES}/extra-packet.stf`);
      assert.equal(result.isPassed, false, 'an unexpected answer on a watched port must fail');
      assert.equal(result.failures.length, 1, formatStfReport(result));
      assert.match(
        result.failures[0]!,
        /extra-packet\.stf:5: unexpected packet on port 1 .*: 0A 00 00 00 01 01/,
      );
    });

    it('fails when packets on one port come out in another order than expected', async () => {
      const result = await runStfFile(`${FIXTURES}/order.stf`);
      assert.equal(result.isPassed, false, 'expects on a port are matched in order');
      assert.equal(result.failures.length, 2, formatStfReport(result));
      assert.match(
        result.failures[0]!,
        /order\.stf:7: packet 0 on port 2 \(from the packet at line 5\) differs at byte 25 \(nibble 51: expected E, got F\)/,
      );
    });
  });

  describe('runStf', () => {
    const forwardRoute =
      'add ipv4_lpm hdr.ipv4.dst_addr:0x0a0002** ipv4_forward(dst_mac:0x0a0000000202, port:2)';
    const packetTo = (port: number) =>
      `packet ${port} 0A00000000FE 0A0000000909 0800 45000021000000004011 5BBF 0A000909 0A000205 13881770000D71FC 68656C6C6F`;

    it('ignores outputs on ports no packet or expect line names, as the BMv2 driver does', () => {
      const result = runStf(parseStf(`${forwardRoute}\n${packetTo(3)}\n`, 'inline.stf'));
      assert.equal(result.isPassed, true, formatStfReport(result));
      assert.equal(result.outputsByPort.get(2)?.length, 1, 'the packet did leave by port 2');
      assert.match(result.notes.join('\n'), /1 packet\(s\) left on unwatched port 2/);
    });

    it('accepts any number of packets on a port with a bare expect', () => {
      const result = runStf(
        parseStf(`${forwardRoute}\n${packetTo(3)}\n${packetTo(3)}\nexpect 2\n`, 'inline.stf'),
      );
      assert.equal(result.isPassed, true, formatStfReport(result));
    });

    it('reports a failing check_counter and goes on', () => {
      const result = runStf(parseStf(`check_counter drop_reasons(9) packets == 1\nwait\n`, 'inline.stf'));
      assert.equal(result.isPassed, false, 'no packet was dropped yet');
      assert.match(result.failures[0]!, /inline\.stf:1: check_counter failed: drop_reasons\[9\] = 0 packets/);
    });

    it('stops at a table name that matches no table', () => {
      const result = runStf(parseStf(`add no_such_table k:1 a()\n${packetTo(3)}\n`, 'inline.stf'));
      assert.equal(result.packetCount, 0, 'nothing after the bad command runs');
      assert.match(result.failures[0]!, /inline\.stf:1: no table named 'no_such_table'/);
    });

    it('stops at an ambiguous table suffix', () => {
      const result = runStf(parseStf('setdefault _table NoAction()\n', 'inline.stf'));
      assert.match(result.failures[0]!, /table name '_table' is ambiguous/);
    });

    it('stops at an ambiguous action suffix within the table', () => {
      const result = runStf(parseStf('add service_table dst_addr:1 dst_port:2 n()\n', 'inline.stf'));
      assert.match(result.failures[0]!, /action of EdgeShiftIngress\.service_table name 'n' is ambiguous/);
    });

    it('fills a key left out of an add as the driver does: exact 0', () => {
      const text = 'add service_table hdr.udp.dst_port:9 steer_to_owner(service_id:1)\n';
      const pipeline = new ReferencePipeline();
      const result = runStf(parseStf(text, 'inline.stf'), { pipeline });
      assert.equal(result.isPassed, true, formatStfReport(result));
      assert.equal(pipeline.table('service_table').lookup([0, 9]).hit, true, 'dst_addr defaulted to 0');
    });

    it('writes, reads and resets registers by suffix', () => {
      const text =
        'register_write service_owner 3 2\nregister_read service_owner 3\nregister_reset service_owner\nregister_read service_owner 3\n';
      const result = runStf(parseStf(text, 'inline.stf'));
      assert.deepEqual(
        result.notes,
        ['inline.stf:2: service_owner[3] = 2', 'inline.stf:4: service_owner[3] = 0'],
        'reads show the written value, then 0 after the reset',
      );
    });

    it('refuses a register value wider than the register', () => {
      const result = runStf(parseStf('register_write node_overload_streak 1 256\n', 'inline.stf'));
      assert.match(result.failures[0]!, /does not fit 8 bits/);
    });
  });

  describe('comparePacket', () => {
    const frame = Buffer.from('0102030405', 'hex');
    const cases: { pattern: string; isExactLength: boolean; expected: RegExp | undefined }[] = [
      { pattern: '0102030405', isExactLength: true, expected: undefined },
      { pattern: '010203', isExactLength: false, expected: undefined },
      { pattern: '01**03', isExactLength: false, expected: undefined },
      { pattern: '0*02', isExactLength: false, expected: undefined },
      { pattern: '010203', isExactLength: true, expected: /is 5 bytes, expected exactly 3/ },
      {
        pattern: '010204',
        isExactLength: false,
        expected: /differs at byte 2 \(nibble 5: expected 4, got 3\)/,
      },
      { pattern: '010203040506', isExactLength: false, expected: /is too short: 5 bytes, expected 6/ },
    ];
    for (const { pattern, isExactLength, expected } of cases) {
      it(`${pattern}${isExactLength ? '$' : ''} ${expected === undefined ? 'matches' : 'does not match'} 0102030405`, () => {
        const result = comparePacket({ nibbles: pattern, isExactLength }, frame);
        if (expected === undefined) assert.equal(result, undefined, `pattern ${pattern} must match`);
        else assert.match(result ?? '', expected);
      });
    }
  });
});
