import assert from 'node:assert/strict';

import { buildUdpFrame, formatIpv4, formatMac, parseIpv4, parseMac } from '../../../p4/protocol/udp-frame.ts';

describe('p4/protocol/udp-frame', () => {
  it('builds a frame whose IPv4 and UDP checksums match a hand-checked capture', () => {
    // 10.0.1.1:40000 -> 10.0.0.254:7700, payload "hi", TTL 64, id 0; checksums from an independent RFC 1071 sum (Python struct).
    const frame = buildUdpFrame({
      srcMac: '00:00:00:00:01:01',
      dstMac: '00:00:00:00:00:fe',
      srcIp: '10.0.1.1',
      dstIp: '10.0.0.254',
      srcPort: 40000,
      dstPort: 7700,
      payload: Buffer.from('hi'),
    });
    assert.equal(
      frame.toString('hex'),
      '0000000000fe' +
        '000000000101' +
        '0800' +
        '4500001e00000000' +
        '4011' +
        '64d1' +
        '0a000101' +
        '0a0000fe' +
        '9c401e14000a' +
        'c71d' +
        '6869',
    );
  });

  it('leaves the UDP checksum zero when asked', () => {
    const frame = buildUdpFrame({
      srcMac: '00:00:00:00:01:01',
      dstMac: '00:00:00:00:00:fe',
      srcIp: '10.0.1.1',
      dstIp: '10.0.0.254',
      srcPort: 1,
      dstPort: 2,
      payload: Buffer.alloc(0),
      udpChecksum: 'zero',
    });
    assert.equal(frame.readUInt16BE(40), 0);
  });

  it('round-trips addresses and names a malformed one', () => {
    assert.equal(formatIpv4(parseIpv4('192.168.0.250')), '192.168.0.250');
    assert.equal(formatMac(parseMac('aa:bb:cc:00:11:22')), 'aa:bb:cc:00:11:22');
    assert.throws(() => parseIpv4('10.0.0.256'), /10\.0\.0\.256/);
    assert.throws(() => parseMac('aa:bb'), /aa:bb/);
  });
});
