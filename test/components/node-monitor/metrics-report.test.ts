import assert from 'node:assert/strict';

import {
  clampInflightRequests,
  encodeMetricsPacket,
  initialSequence,
  metricsTopicOf,
  nextSequence,
} from '../../../components/node-monitor/metrics-report.ts';

describe('components/node-monitor/metrics-report', () => {
  it('encodes a METRICS packet with only the METRICS fields set', () => {
    const bytes = encodeMetricsPacket({
      nodeId: 2,
      thingName: 'edge-b',
      sequence: 0x01020304,
      timestampMs: 0,
      cpuLoadBp: 7500,
      memLoadBp: 1234,
      inflightRequests: 17,
      rawCpuLoadRatio: 0.75,
      rawMemLoadRatio: 0.1234,
    });
    const expected = Buffer.from(
      'e5f7' + '01' + '01' + '0002' + '0000' + '01020304' + '00000000' + '1d4c' + '04d2' + '0011' + '0000',
      'hex',
    );
    assert.deepEqual(
      bytes,
      expected,
      'magic, version, METRICS, node 2, no service, sequence, no epoch, loads, in-flight',
    );
  });

  it('starts the sequence at the wall-clock milliseconds modulo 2^32', () => {
    assert.equal(initialSequence(1_700_000_000_123), 1_700_000_000_123 % 2 ** 32);
  });

  it('wraps the sequence from 2^32 - 1 to 0', () => {
    assert.equal(nextSequence(2 ** 32 - 1), 0);
  });

  it('clamps in-flight requests to the 16-bit field', () => {
    assert.deepEqual([-3, 2.6, 70_000, Number.NaN].map(clampInflightRequests), [0, 3, 65535, 0]);
  });

  it('names the local topic after the thing', () => {
    assert.equal(metricsTopicOf('edge-a'), 'edgeshift/metrics/edge-a');
  });
});
