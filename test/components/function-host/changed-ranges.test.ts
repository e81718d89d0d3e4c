import assert from 'node:assert/strict';

import fc from 'fast-check';

import {
  changedRanges,
  coveredBytes,
  MERGE_GAP_BYTES,
  unionRanges,
  type ByteRanges,
} from '../../../components/function-host/changed-ranges.ts';

/** Ranges are sorted, non-empty and further apart than the merge gap. */
function assertWellFormed(ranges: ByteRanges, length: number): void {
  for (let index = 0; index < ranges.length; index += 2) {
    const start = ranges[index] as number;
    const end = ranges[index + 1] as number;
    assert.ok(start < end && end <= length, `range [${start}, ${end}) inside 0..${length}`);
    if (index > 0) assert.ok(start - (ranges[index - 1] as number) > MERGE_GAP_BYTES, 'ranges apart');
  }
}

function covers(ranges: ByteRanges, at: number): boolean {
  for (let index = 0; index < ranges.length; index += 2) {
    if ((ranges[index] as number) <= at && at < (ranges[index + 1] as number)) return true;
  }
  return false;
}

/** A value and a copy of it with bytes changed at some offsets. */
const editedValueArb = fc.uint8Array({ minLength: 1, maxLength: 70_000 }).chain((before) =>
  fc
    .array(fc.tuple(fc.nat(before.byteLength - 1), fc.integer({ min: 1, max: 255 })), { maxLength: 20 })
    .map((edits) => {
      const after = new Uint8Array(before);
      for (const [at, xor] of edits) after[at] = (after[at] as number) ^ xor;
      return { before, after };
    }),
);

describe('components/function-host/changed-ranges', () => {
  it('finds one short range where a large value changed in one place', () => {
    const before = new Uint8Array(1 << 20);
    const after = new Uint8Array(before);
    after.set([1, 2, 3], 300_000);
    assert.deepEqual(changedRanges(before, after), [300_000, 300_003]);
  });

  it('joins differences closer than the merge gap and keeps farther ones apart', () => {
    const before = new Uint8Array(200);
    const after = new Uint8Array(before);
    after[10] = 1;
    after[10 + MERGE_GAP_BYTES + 1] = 1;
    after[100] = 1;
    assert.deepEqual(changedRanges(before, after), [10, 10 + MERGE_GAP_BYTES + 2, 100, 101]);
  });

  it('covers exactly the bytes that differ, give or take the merge gap, in well-formed ranges', () => {
    fc.assert(
      fc.property(editedValueArb, ({ before, after }) => {
        const ranges = changedRanges(before, after);
        assertWellFormed(ranges, after.byteLength);
        const patched = new Uint8Array(before);
        for (let index = 0; index < ranges.length; index += 2) {
          patched.set(after.subarray(ranges[index], ranges[index + 1]), ranges[index]);
        }
        assert.deepEqual(patched, after, 'the ranges of `after` turn `before` into it');
        if (ranges.length > 0) {
          assert.notEqual(
            before[ranges[0] as number],
            after[ranges[0] as number],
            'a range starts at a change',
          );
        }
      }),
      { numRuns: 200 },
    );
  });

  it('unites two lists into well-formed ranges covering every byte of both', () => {
    const rangesArb = fc
      .array(fc.nat(500), { maxLength: 16 })
      .map((points) => [...new Set(points)].sort((a, b) => a - b))
      .map((points) => {
        const before = new Uint8Array(512);
        const after = new Uint8Array(before);
        for (const at of points) after[at] = 1;
        return changedRanges(before, after);
      });
    fc.assert(
      fc.property(rangesArb, rangesArb, (a, b) => {
        const union = unionRanges(a, b);
        assertWellFormed(union, 512);
        for (let at = 0; at < 512; at += 1) {
          if (covers(a, at) || covers(b, at)) assert.ok(covers(union, at), `byte ${at} covered`);
        }
        // Each join adds at most the gap it closes.
        const joins = (a.length + b.length) / 2;
        assert.ok(coveredBytes(union) <= coveredBytes(a) + coveredBytes(b) + joins * MERGE_GAP_BYTES);
      }),
      { numRuns: 300 },
    );
  });
});
