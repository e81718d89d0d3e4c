import assert from 'node:assert/strict';

import fc from 'fast-check';

import {
  decodeHeader,
  encodeHeader,
  isNewerSequence,
  type EdgeShiftHeader,
} from '../../../p4/protocol/edgeshift-header.ts';
import {
  HEADER_BYTES,
  NODE_COUNT,
  PacketType,
  SERVICE_COUNT,
} from '../../../p4/protocol/edgeshift-protocol.ts';

const METRICS: EdgeShiftHeader = {
  type: PacketType.METRICS,
  nodeId: 1,
  serviceId: 0,
  sequence: 0x01020304,
  epoch: 0,
  cpuLoadBp: 8500,
  memLoadBp: 1234,
  inflightRequests: 7,
  targetNodeId: 0,
};

const headerArbitrary: fc.Arbitrary<EdgeShiftHeader> = fc.record({
  type: fc.constantFrom(...Object.values(PacketType)),
  nodeId: fc.integer({ min: 1, max: NODE_COUNT - 1 }),
  serviceId: fc.integer({ min: 0, max: SERVICE_COUNT - 1 }),
  sequence: fc.nat({ max: 0xffff_ffff }),
  epoch: fc.nat({ max: 0xffff_ffff }),
  cpuLoadBp: fc.integer({ min: 0, max: 10_000 }),
  memLoadBp: fc.integer({ min: 0, max: 10_000 }),
  inflightRequests: fc.nat({ max: 0xffff }),
  targetNodeId: fc.integer({ min: 0, max: NODE_COUNT - 1 }),
});

function mutate(bytes: Buffer, index: number, value: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[index % copy.length] = value;
  return copy;
}

describe('p4/protocol/edgeshift-header', () => {
  describe('encodeHeader', () => {
    it('lays out a METRICS header in network byte order', () => {
      assert.equal(
        encodeHeader(METRICS).toString('hex'),
        'e5f7' + '01' + '01' + '0001' + '0000' + '01020304' + '00000000' + '2134' + '04d2' + '0007' + '0000',
      );
    });

    const outOfRange: [string, Partial<EdgeShiftHeader>][] = [
      ['node id 0', { nodeId: 0 }],
      ['node id NODE_COUNT', { nodeId: NODE_COUNT }],
      ['service id SERVICE_COUNT', { serviceId: SERVICE_COUNT }],
      ['cpu load above 100 %', { cpuLoadBp: 10_001 }],
      ['memory load above 100 %', { memLoadBp: 10_001 }],
      ['negative sequence', { sequence: -1 }],
      ['sequence of 33 bits', { sequence: 2 ** 32 }],
      ['fractional epoch', { epoch: 1.5 }],
    ];
    for (const [name, change] of outOfRange) {
      it(`refuses ${name}`, () => {
        assert.throws(() => encodeHeader({ ...METRICS, ...change }), { code: 'ERR_CODEC_OUT_OF_RANGE' });
      });
    }
  });

  describe('decodeHeader', () => {
    const valid = encodeHeader(METRICS);
    const rejects: [string, Buffer, string][] = [
      ['an empty payload', Buffer.alloc(0), 'ERR_CODEC_BAD_LENGTH'],
      ['a truncated header', valid.subarray(0, HEADER_BYTES - 1), 'ERR_CODEC_BAD_LENGTH'],
      ['a header with trailing bytes', Buffer.concat([valid, Buffer.from([0])]), 'ERR_CODEC_BAD_LENGTH'],
      ['a wrong magic', mutate(valid, 0, 0x00), 'ERR_CODEC_BAD_MAGIC'],
      ['version 2', mutate(valid, 2, 2), 'ERR_CODEC_BAD_VERSION'],
      ['type 0', mutate(valid, 3, 0), 'ERR_CODEC_BAD_TYPE'],
      ['type 6', mutate(valid, 3, 6), 'ERR_CODEC_BAD_TYPE'],
      ['node id 0x00ff', mutate(valid, 5, 0xff), 'ERR_CODEC_OUT_OF_RANGE'],
      ['cpu load 0xff34', mutate(valid, 16, 0xff), 'ERR_CODEC_OUT_OF_RANGE'],
    ];
    for (const [name, bytes, code] of rejects) {
      it(`rejects ${name} with ${code}`, () => {
        const result = decodeHeader(bytes);
        assert.equal(result.ok, false, 'must be rejected');
        if (!result.ok) {
          assert.equal(result.code, code);
          assert.ok(result.reason.length > 0, 'a reason must be given');
        }
      });
    }

    it('decodes what encodeHeader wrote, for any valid header', () => {
      fc.assert(
        fc.property(headerArbitrary, (header) => {
          assert.deepEqual(decodeHeader(encodeHeader(header)), { ok: true, header: { ...header } });
        }),
        { numRuns: 20_000 },
      );
    });

    it('never throws on 100,000 random and mutated packets, and re-encodes every accepted one byte-exactly', () => {
      const randomBytes = fc.uint8Array({ minLength: 0, maxLength: 64 });
      const mutated = fc
        .tuple(headerArbitrary, fc.array(fc.tuple(fc.nat(HEADER_BYTES - 1), fc.nat(255)), { maxLength: 4 }))
        .map(([header, edits]) =>
          edits.reduce((bytes, [index, value]) => mutate(bytes, index, value), encodeHeader(header)),
        );
      fc.assert(
        fc.property(fc.oneof(randomBytes, mutated), (bytes) => {
          const result = decodeHeader(bytes);
          if (result.ok)
            assert.deepEqual(
              encodeHeader(result.header),
              Buffer.from(bytes),
              'accepted bytes must round-trip',
            );
          else assert.match(result.code, /^ERR_CODEC_/);
        }),
        { numRuns: 100_000 },
      );
    });
  });

  describe('isNewerSequence', () => {
    const cases: [number, number, boolean][] = [
      [2, 1, true],
      [1, 1, false],
      [1, 2, false],
      [0, 0xffff_ffff, true],
      [0x8000_0000, 0, false],
      [0x7fff_ffff, 0, true],
    ];
    for (const [next, previous, expected] of cases) {
      it(`${next} after ${previous} is ${expected ? 'newer' : 'not newer'}`, () => {
        assert.equal(isNewerSequence(next, previous), expected);
      });
    }
  });
});
