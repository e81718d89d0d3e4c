// Which bytes differ between two values of equal length, as sorted ranges, and the union of two such
// lists. While a migration tracks changes, the state store keeps these ranges per key, so a delta
// carries what a function changed inside a value instead of the whole value again: a sensor window of
// 8 KiB that gains one reading changes 12 bytes. Used by state-store.ts.

/** Sorted, disjoint, non-adjacent [start, end) pairs, flattened: [start0, end0, start1, end1, ...]. */
export type ByteRanges = readonly number[];

/**
 * Differences closer than this become one range: each range costs 8 bytes (offset and length), so
 * sending a few equal bytes between two changes is cheaper than a second range.
 */
export const MERGE_GAP_BYTES = 16;

/**
 * Block sizes compared natively (memcmp) before the bytes of a differing block are scanned one by one,
 * so a value of megabytes changed in one place costs a few hundred comparisons and one short scan.
 */
const BLOCK_BYTES = [65_536, 4096, 256];

/** The ranges where `after` differs from `before`; both must have the same length. */
export function changedRanges(before: Uint8Array, after: Uint8Array): number[] {
  const ranges: number[] = [];
  compareBlocks(before, after, 0, after.byteLength, 0, ranges);
  return ranges;
}

function compareBlocks(
  before: Uint8Array,
  after: Uint8Array,
  start: number,
  end: number,
  level: number,
  ranges: number[],
): void {
  const block = BLOCK_BYTES[level];
  if (block === undefined) {
    scanBytes(before, after, start, end, ranges);
    return;
  }
  for (let from = start; from < end; from += block) {
    const to = Math.min(from + block, end);
    if (Buffer.compare(before.subarray(from, to), after.subarray(from, to)) === 0) continue;
    compareBlocks(before, after, from, to, level + 1, ranges);
  }
}

function scanBytes(
  before: Uint8Array,
  after: Uint8Array,
  start: number,
  end: number,
  ranges: number[],
): void {
  let index = start;
  while (index < end) {
    if (before[index] === after[index]) {
      index += 1;
      continue;
    }
    let differsTo = index + 1;
    while (differsTo < end && before[differsTo] !== after[differsTo]) differsTo += 1;
    appendRange(ranges, index, differsTo);
    index = differsTo;
  }
}

/**
 * Appends [start, end) to ranges that start at or before `start`, joining it to the last one when they
 * overlap or lie closer than MERGE_GAP_BYTES.
 */
function appendRange(ranges: number[], start: number, end: number): void {
  const last = ranges.length - 1;
  if (last > 0 && start - (ranges[last] as number) <= MERGE_GAP_BYTES) {
    ranges[last] = Math.max(ranges[last] as number, end);
    return;
  }
  ranges.push(start, end);
}

/** Every byte in `a` or in `b`, with ranges closer than MERGE_GAP_BYTES joined. */
export function unionRanges(a: ByteRanges, b: ByteRanges): number[] {
  const union: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const takeA = j >= b.length || (i < a.length && (a[i] as number) <= (b[j] as number));
    const source = takeA ? a : b;
    const at = takeA ? i : j;
    appendRange(union, source[at] as number, source[at + 1] as number);
    if (takeA) i += 2;
    else j += 2;
  }
  return union;
}

/** Bytes the ranges cover. */
export function coveredBytes(ranges: ByteRanges): number {
  let bytes = 0;
  for (let index = 0; index < ranges.length; index += 2) {
    bytes += (ranges[index + 1] as number) - (ranges[index] as number);
  }
  return bytes;
}
