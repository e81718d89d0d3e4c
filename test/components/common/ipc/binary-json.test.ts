import assert from 'node:assert/strict';

import { decodeBinaryFields, encodeBinaryFields } from '../../../../components/common/ipc/binary-json.ts';

interface Case {
  readonly name: string;
  readonly value: unknown;
  readonly wire: unknown;
}

const CASES: readonly Case[] = [
  { name: 'plain JSON', value: { a: 1, b: [true, null, 'x'] }, wire: { a: 1, b: [true, null, 'x'] } },
  { name: 'top-level bytes', value: Uint8Array.from([0, 255]), wire: { $bytes: 'AP8=' } },
  { name: 'empty bytes', value: new Uint8Array(0), wire: { $bytes: '' } },
  {
    name: 'bytes nested in arrays and objects',
    value: { chunks: [{ data: Uint8Array.from([1, 2, 3]) }], index: 4 },
    wire: { chunks: [{ data: { $bytes: 'AQID' } }], index: 4 },
  },
  { name: 'a Buffer (a Uint8Array subclass)', value: Buffer.from('hi'), wire: { $bytes: 'aGk=' } },
];

describe('components/common/ipc/binary-json', () => {
  for (const { name, value, wire } of CASES) {
    it(`encodes ${name}`, () => {
      assert.deepEqual(encodeBinaryFields(value), wire, 'wire form');
      assert.deepEqual(JSON.parse(JSON.stringify(encodeBinaryFields(value))), wire, 'survives JSON');
    });
    it(`decodes ${name}`, () => {
      const decoded = decodeBinaryFields(wire);
      const expected = value instanceof Uint8Array ? new Uint8Array(value) : value;
      assert.deepEqual(decoded, expected, 'bytes come back as Uint8Array');
    });
  }

  it('encodes a view into a larger buffer without the bytes around it', () => {
    const backing = Uint8Array.from([9, 9, 1, 2, 9]);
    assert.deepEqual(encodeBinaryFields(backing.subarray(2, 4)), { $bytes: 'AQI=' }, 'only the view');
  });

  it('leaves an object with $bytes beside other keys alone', () => {
    assert.deepEqual(
      decodeBinaryFields({ $bytes: 'AQI=', other: 1 }),
      { $bytes: 'AQI=', other: 1 },
      'not a marker',
    );
  });
});
