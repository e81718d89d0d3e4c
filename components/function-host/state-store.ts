// The key-value state of one service: what a function sees as `ctx.state` (namespace 'app') and the
// duplicate-detection window (namespace 'dedupe'), so both migrate together. Called by the request
// server and the control handlers. Invariant: snapshot (taken at a mark, copy-on-write, read one bounded
// chunk at a time) + every delta since, imported elsewhere, yields an equal checksum.
// The checksum is a sum of per-entry SHA-256 digests, hashed off the request path: a put or an imported
// record only marks its key; marked keys are hashed in small slices between I/O, and the rest at the
// next checksum or delta, so the freeze window hashes at most what changed since the last delta.
// An import can be applied in slices too (StateImport), so a node that serves requests while it
// receives a snapshot never holds them behind a whole chunk.
// A delta carries a value rewritten at the same length as a patch (PATCH record: only the byte ranges
// that changed since the mark, changed-ranges.ts), so a function that rewrites a large value on every
// request does not send all of it again in every delta and every mirror of a serving source.
import { createHash } from 'node:crypto';
import { setImmediate as yieldToIo } from 'node:timers/promises';

import { EdgeShiftError } from '../common/errors.ts';
import type { ByteRanges } from './changed-ranges.ts';
import { changedRanges, coveredBytes, unionRanges } from './changed-ranges.ts';

export type StateNamespace = 'app' | 'dedupe';

/** What a function sees as `ctx.state`. Values are copied in and out: mutating them changes nothing. */
export interface KeyValueState {
  get(key: string): Uint8Array | undefined;
  getJson<T = unknown>(key: string): T | undefined;
  put(key: string, value: Uint8Array): void;
  putJson(key: string, value: unknown): void;
  delete(key: string): boolean;
  has(key: string): boolean;
}

export interface SnapshotExport {
  readonly chunkCount: number;
  readonly snapshotBytes: number;
  /** Checksum of the whole store at the mark: the importer's checksum after the last chunk. */
  readonly stateChecksum: string;
  readChunk(index: number): Uint8Array;
}

/**
 * A chunk or delta whose every record has been checked, applied as the caller paces it. Between two
 * calls the store holds part of it: only for a store that serves nothing from it (an import).
 */
export interface StateImport {
  readonly recordCount: number;
  /** Applies records until all are applied (true) or `budgetMs` has passed (false). */
  applyFor(budgetMs: number): boolean;
}

export interface DeltaExport {
  readonly delta: Uint8Array;
  readonly changedKeys: number;
  /** Changed keys left for the next delta because this one reached its byte limit. */
  readonly remainingKeys: number;
}

const NAMESPACE_PREFIX: Record<StateNamespace, string> = { app: 'a', dedupe: 'd' };
const FORMAT_VERSION = 1;
const KIND_SNAPSHOT = 1;
const KIND_DELTA = 2;
const OP_PUT = 1;
const OP_DELETE = 2;
const OP_PATCH = 3;
const HEADER_BYTES = 2;
// op (1) + key length (4) + value length (4)
const RECORD_OVERHEAD_BYTES = 9;
// A patch's value: the patched value's length (4), then per range its offset (4), length (4) and bytes.
const PATCH_HEADER_BYTES = 4;
const PATCH_RANGE_OVERHEAD_BYTES = 8;
/** Values shorter than this are sent whole: comparing them would save next to nothing. */
const MIN_PATCHED_VALUE_BYTES = 64;
/** A value changed in more places than this since the mark is sent whole, which bounds the tracking. */
const MAX_PATCH_RANGES = 64;
const LANES = 4;
/** Longest a background hashing slice, or an import slice, may hold the event loop. */
const SLICE_MS = 1;
const textEncoder = new TextEncoder();

/** One entry's digest: SHA-256 over (key length, key, value). */
function entryDigest(storeKey: string, value: Uint8Array): Buffer {
  const key = Buffer.allocUnsafe(4 + Buffer.byteLength(storeKey));
  key.writeUInt32BE(key.write(storeKey, 4, 'utf8'), 0);
  return createHash('sha256').update(key).update(value).digest();
}

/** Adds (sign 1) or removes (sign -1) a digest from a sum of four 64-bit lanes, each mod 2^64. */
function addDigest(sum: BigUint64Array, digest: Buffer, sign: 1 | -1): void {
  for (let lane = 0; lane < LANES; lane += 1) {
    const part = digest.readBigUInt64BE(lane * 8);
    // A BigUint64Array stores modulo 2^64, so each lane wraps as intended.
    sum[lane] = sign === 1 ? (sum[lane] as bigint) + part : (sum[lane] as bigint) - part;
  }
}

function formatChecksum(sum: BigUint64Array): string {
  return `sha256sum:${[...sum].map((lane) => lane.toString(16).padStart(16, '0')).join('')}`;
}

function badData(message: string): EdgeShiftError {
  return new EdgeShiftError('ERR_FNHOST_BAD_STATE_DATA', message);
}

interface ExportSession {
  readonly keys: readonly string[];
  /** Index into `keys` where each chunk starts, plus one past the end. */
  readonly chunkStarts: readonly number[];
  /** Values (or absence) at the mark of keys modified since: copy-on-write for the snapshot. */
  readonly preserved: Map<string, Uint8Array | null>;
}

interface NamespaceTotals {
  /** Sum of the digests of every entry of the namespace not in `#unhashed`. */
  readonly checksum: BigUint64Array;
  keys: number;
  bytes: number;
}

export class StateStore {
  readonly #entries = new Map<string, Uint8Array>();
  readonly #totals = new Map<string, NamespaceTotals>();
  /** Digest of each entry whose digest is in its namespace's sum. */
  readonly #digests = new Map<string, Buffer>();
  /** Keys changed since their digest was last taken (their digest is not in the sum). */
  readonly #unhashed = new Set<string>();
  #hashing: NodeJS.Immediate | undefined;
  /** Keys changed since the mark: where in the value (same length), or null for the whole of it. */
  #dirty: Map<string, ByteRanges | null> | undefined;
  #export: ExportSession | undefined;

  namespace(name: StateNamespace): KeyValueState {
    const prefix = NAMESPACE_PREFIX[name];
    return {
      get: (key) => this.#get(prefix + key),
      getJson: <T>(key: string) => {
        const value = this.#get(prefix + key);
        return value === undefined ? undefined : (JSON.parse(Buffer.from(value).toString('utf8')) as T);
      },
      put: (key, value) => this.#set(prefix + key, new Uint8Array(value)),
      putJson: (key, value) => this.#set(prefix + key, textEncoder.encode(JSON.stringify(value))),
      delete: (key) => this.#delete(prefix + key),
      has: (key) => this.#entries.has(prefix + key),
    };
  }

  /** Order-independent sum of SHA-256 over (key, value) of every entry, or of one namespace's. */
  checksum(name?: StateNamespace): string {
    this.#hashChanged();
    if (name !== undefined) return formatChecksum(this.#totalsOf(NAMESPACE_PREFIX[name]).checksum);
    const sum = new BigUint64Array(LANES);
    for (const totals of this.#totals.values()) {
      for (let lane = 0; lane < LANES; lane += 1) {
        sum[lane] = (sum[lane] as bigint) + (totals.checksum[lane] as bigint);
      }
    }
    return formatChecksum(sum);
  }

  /**
   * Hashes every changed entry, in slices between I/O: an importer calls it before the freeze, so that
   * the checksum at its activation hashes only the last delta, not a snapshot just received.
   */
  async hashBetweenIo(): Promise<void> {
    while (this.#unhashed.size > 0) {
      this.#hashChanged(SLICE_MS);
      await yieldToIo();
    }
  }

  /** Entries changed since their digest was last taken: what the next checksum would hash. */
  get unhashedEntries(): number {
    return this.#unhashed.size;
  }

  keyCount(name: StateNamespace): number {
    return this.#totalsOf(NAMESPACE_PREFIX[name]).keys;
  }

  /** Bytes of keys (UTF-8) and values held in one namespace. */
  byteCount(name: StateNamespace): number {
    return this.#totalsOf(NAMESPACE_PREFIX[name]).bytes;
  }

  get isTracking(): boolean {
    return this.#dirty !== undefined;
  }

  /**
   * Marks now: from here on changed keys are tracked for deltas, and a snapshot of the state at this
   * instant is readable chunk by chunk while the function keeps writing (copy-on-write).
   */
  beginSnapshot(chunkBytes: number): SnapshotExport {
    if (!Number.isInteger(chunkBytes) || chunkBytes < 64) {
      throw new EdgeShiftError(
        'ERR_FNHOST_BAD_REQUEST',
        `chunkBytes must be an integer >= 64, got ${chunkBytes}`,
      );
    }
    this.#dirty = new Map();
    const keys = [...this.#entries.keys()];
    const { chunkStarts, snapshotBytes } = this.#planChunks(keys, chunkBytes);
    const session: ExportSession = { keys, chunkStarts, preserved: new Map() };
    this.#export = session;
    return {
      chunkCount: chunkStarts.length - 1,
      snapshotBytes,
      stateChecksum: this.checksum(),
      readChunk: (index) => this.#readChunk(session, index),
    };
  }

  /** Changes since the previous mark (puts carry the current value, patches its changes), then marks again. */
  takeDelta(maxBytes = Number.POSITIVE_INFINITY): DeltaExport {
    const dirty = this.#dirty;
    if (dirty === undefined) {
      throw new EdgeShiftError(
        'ERR_FNHOST_NO_EXPORT',
        'no mark was taken: begin a snapshot before taking deltas',
      );
    }
    // The snapshot's copy-on-write values are only needed until the first delta supersedes them.
    this.#export = undefined;
    // Hash what changed now, so the checksum at the freeze hashes only what changes after this delta.
    this.#hashChanged();
    const records: EncodableRecord[] = [];
    let bytes = HEADER_BYTES;
    for (const [storeKey, ranges] of dirty) {
      const record = deltaRecord(storeKey, this.#entries.get(storeKey), ranges);
      const recordBytes = recordSize(record);
      if (records.length > 0 && bytes + recordBytes > maxBytes) break;
      records.push(record);
      bytes += recordBytes;
    }
    for (const record of records) dirty.delete(record.storeKey);
    return {
      delta: encodeRecords(KIND_DELTA, records, bytes),
      changedKeys: records.length,
      remainingKeys: dirty.size,
    };
  }

  /** Stops tracking changes and releases the snapshot (migration ended, either way). */
  endTracking(): void {
    this.#dirty = undefined;
    this.#export = undefined;
  }

  clear(): void {
    this.#entries.clear();
    this.#totals.clear();
    this.#digests.clear();
    this.#unhashed.clear();
    clearImmediate(this.#hashing);
    this.#hashing = undefined;
    this.endTracking();
  }

  /** Checks every record of a snapshot chunk; malformed data throws and changes nothing. */
  openChunkImport(chunk: Uint8Array): StateImport {
    return this.#openImport(chunk, KIND_SNAPSHOT);
  }

  openDeltaImport(delta: Uint8Array): StateImport {
    return this.#openImport(delta, KIND_DELTA);
  }

  /** Applies a snapshot chunk at once; returns its record count. */
  importChunk(chunk: Uint8Array): number {
    return applyAll(this.openChunkImport(chunk));
  }

  importDelta(delta: Uint8Array): number {
    return applyAll(this.openDeltaImport(delta));
  }

  #totalsOf(prefix: string): NamespaceTotals {
    let totals = this.#totals.get(prefix);
    if (totals === undefined) {
      totals = { checksum: new BigUint64Array(LANES), keys: 0, bytes: 0 };
      this.#totals.set(prefix, totals);
    }
    return totals;
  }

  #get(storeKey: string): Uint8Array | undefined {
    const value = this.#entries.get(storeKey);
    return value === undefined ? undefined : new Uint8Array(value);
  }

  /** Tracks a change for the snapshot and the checksum, and takes the old value out of the totals. */
  #beforeChange(storeKey: string, previous: Uint8Array | undefined, totals: NamespaceTotals): void {
    const preserved = this.#export?.preserved;
    if (preserved !== undefined && !preserved.has(storeKey)) preserved.set(storeKey, previous ?? null);
    const digest = this.#digests.get(storeKey);
    if (digest !== undefined) {
      addDigest(totals.checksum, digest, -1);
      this.#digests.delete(storeKey);
    }
    this.#unhashed.add(storeKey);
    this.#scheduleHashing();
    if (previous === undefined) return;
    totals.bytes -= Buffer.byteLength(storeKey) - 1 + previous.byteLength;
    totals.keys -= 1;
  }

  /** Notes for the next delta where a key's value changed since the mark (the delta's target holds it). */
  #trackChange(storeKey: string, previous: Uint8Array | undefined, next: Uint8Array | undefined): void {
    const dirty = this.#dirty;
    if (dirty === undefined) return;
    const known = dirty.get(storeKey);
    if (known === null || previous === undefined || next === undefined || !isPatchable(previous, next)) {
      dirty.set(storeKey, null);
      return;
    }
    const ranges = changedRanges(previous, next);
    const all = known === undefined ? ranges : unionRanges(known, ranges);
    // Rewritten with the same bytes: the target already holds this value.
    if (all.length === 0) return;
    dirty.set(storeKey, all.length > 2 * MAX_PATCH_RANGES ? null : all);
  }

  #set(storeKey: string, value: Uint8Array): void {
    const totals = this.#totalsOf(storeKey.charAt(0));
    const previous = this.#entries.get(storeKey);
    this.#trackChange(storeKey, previous, value);
    this.#beforeChange(storeKey, previous, totals);
    this.#entries.set(storeKey, value);
    totals.bytes += Buffer.byteLength(storeKey) - 1 + value.byteLength;
    totals.keys += 1;
  }

  #delete(storeKey: string): boolean {
    const previous = this.#entries.get(storeKey);
    if (previous === undefined) return false;
    this.#trackChange(storeKey, previous, undefined);
    this.#beforeChange(storeKey, previous, this.#totalsOf(storeKey.charAt(0)));
    this.#entries.delete(storeKey);
    return true;
  }

  /** Puts the digests of entries changed since their last digest into the sums, within a time budget. */
  #hashChanged(budgetMs = Number.POSITIVE_INFINITY): void {
    const deadlineMs = performance.now() + budgetMs;
    let hashed = 0;
    for (const storeKey of this.#unhashed) {
      this.#unhashed.delete(storeKey);
      const value = this.#entries.get(storeKey);
      if (value !== undefined) {
        const digest = entryDigest(storeKey, value);
        this.#digests.set(storeKey, digest);
        addDigest(this.#totalsOf(storeKey.charAt(0)).checksum, digest, 1);
      }
      hashed += 1;
      if (hashed % 32 === 0 && performance.now() > deadlineMs) return;
    }
  }

  #scheduleHashing(): void {
    if (this.#hashing !== undefined) return;
    this.#hashing = setImmediate(() => {
      this.#hashing = undefined;
      this.#hashChanged(SLICE_MS);
      if (this.#unhashed.size > 0) this.#scheduleHashing();
    });
    // Pending hashing must not keep a process alive that has nothing else to do.
    this.#hashing.unref();
  }

  #planChunks(keys: readonly string[], chunkBytes: number): { chunkStarts: number[]; snapshotBytes: number } {
    const chunkStarts = [0];
    let snapshotBytes = HEADER_BYTES;
    let chunkSize = HEADER_BYTES;
    keys.forEach((storeKey, index) => {
      const bytes = recordSize({ op: OP_PUT, storeKey, value: this.#entries.get(storeKey) });
      // A record larger than chunkBytes gets a chunk of its own rather than being split.
      if (chunkSize > HEADER_BYTES && chunkSize + bytes > chunkBytes) {
        chunkStarts.push(index);
        chunkSize = HEADER_BYTES;
        snapshotBytes += HEADER_BYTES;
      }
      chunkSize += bytes;
      snapshotBytes += bytes;
    });
    chunkStarts.push(keys.length);
    return { chunkStarts, snapshotBytes };
  }

  #readChunk(session: ExportSession, index: number): Uint8Array {
    if (this.#export !== session) {
      throw new EdgeShiftError(
        'ERR_FNHOST_NO_EXPORT',
        'the snapshot was released (a delta was taken or the export ended)',
      );
    }
    const start = session.chunkStarts[index];
    const end = session.chunkStarts[index + 1];
    if (!Number.isInteger(index) || start === undefined || end === undefined) {
      throw new EdgeShiftError(
        'ERR_FNHOST_BAD_REQUEST',
        `chunk index ${index} out of range 0..${session.chunkStarts.length - 2}`,
      );
    }
    const records: EncodableRecord[] = [];
    let bytes = HEADER_BYTES;
    for (let i = start; i < end; i += 1) {
      const storeKey = session.keys[i] as string;
      const value = session.preserved.has(storeKey)
        ? session.preserved.get(storeKey)
        : this.#entries.get(storeKey);
      // Keys in the snapshot existed at the mark, so a preserved value is never null here.
      if (value === undefined || value === null) continue;
      const record: EncodableRecord = { op: OP_PUT, storeKey, value };
      records.push(record);
      bytes += recordSize(record);
    }
    return encodeRecords(KIND_SNAPSHOT, records, bytes);
  }

  #openImport(bytes: Uint8Array, expectedKind: number): StateImport {
    const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const records: CheckedRecord[] = [];
    walkRecords(data, expectedKind, (record) => records.push(record));
    if (expectedKind === KIND_DELTA) this.#checkPatchBases(data, records);
    let next = 0;
    return {
      recordCount: records.length,
      applyFor: (budgetMs) => {
        const deadlineMs = performance.now() + budgetMs;
        while (next < records.length) {
          this.#applyRecord(data, records[next] as CheckedRecord);
          next += 1;
          if (next % 16 === 0 && performance.now() > deadlineMs) break;
        }
        return next === records.length;
      },
    };
  }

  /**
   * A patch applies to the value its source sent before, so each must find a value of its length here,
   * and a key may appear once per delta (as its source writes them) so that this holds when it applies.
   */
  #checkPatchBases(data: Buffer, records: readonly CheckedRecord[]): void {
    const seen = new Set<string>();
    for (const { op, keyStart, keyEnd } of records) {
      const storeKey = data.toString('utf8', keyStart, keyEnd);
      if (seen.has(storeKey)) throw badData(`key at byte ${keyStart - 5} appears twice in one delta`);
      seen.add(storeKey);
      if (op !== OP_PATCH) continue;
      const patchedBytes = data.readUInt32BE(keyEnd + 4);
      if (this.#entries.get(storeKey)?.byteLength !== patchedBytes) {
        throw badData(`patch at byte ${keyStart - 5} has no value of ${patchedBytes} bytes to apply to`);
      }
    }
  }

  #applyRecord(data: Buffer, { op, keyStart, keyEnd, valueEnd }: CheckedRecord): void {
    const storeKey = data.toString('utf8', keyStart, keyEnd);
    if (op === OP_DELETE) {
      this.#delete(storeKey);
      return;
    }
    if (op === OP_PATCH) {
      // Patched on a copy: the value in place may be preserved for a snapshot or shared by a reader.
      const patched = new Uint8Array(this.#entries.get(storeKey) as Uint8Array);
      forEachPatchRange(data, keyEnd + 4, valueEnd, (offset, start, end) =>
        patched.set(data.subarray(start, end), offset),
      );
      this.#set(storeKey, patched);
      return;
    }
    // A copy: a view would keep the whole chunk alive and share bytes with the caller.
    this.#set(storeKey, new Uint8Array(data.subarray(keyEnd + 4, valueEnd)));
  }
}

/** Applies an import in slices of `sliceMs`, letting pending I/O (requests) run between them. */
export async function applyBetweenIo(job: StateImport, sliceMs = SLICE_MS): Promise<number> {
  while (!job.applyFor(sliceMs)) await yieldToIo();
  return job.recordCount;
}

function applyAll(job: StateImport): number {
  job.applyFor(Number.POSITIVE_INFINITY);
  return job.recordCount;
}

interface EncodableRecord {
  readonly op: number;
  readonly storeKey: string;
  readonly value: Uint8Array | undefined;
  /** For a patch: the ranges of `value` it carries. */
  readonly ranges?: ByteRanges;
}

function isPatchable(previous: Uint8Array, next: Uint8Array): boolean {
  return previous.byteLength === next.byteLength && next.byteLength >= MIN_PATCHED_VALUE_BYTES;
}

function patchBytes(ranges: ByteRanges): number {
  return PATCH_HEADER_BYTES + (ranges.length / 2) * PATCH_RANGE_OVERHEAD_BYTES + coveredBytes(ranges);
}

/** The record that brings a delta's target from the key's value at the mark to `value`. */
function deltaRecord(
  storeKey: string,
  value: Uint8Array | undefined,
  ranges: ByteRanges | null,
): EncodableRecord {
  if (value === undefined) return { op: OP_DELETE, storeKey, value };
  if (ranges === null || patchBytes(ranges) >= value.byteLength) return { op: OP_PUT, storeKey, value };
  return { op: OP_PATCH, storeKey, value, ranges };
}

function recordSize({ storeKey, value, ranges }: EncodableRecord): number {
  const valueBytes = ranges === undefined ? (value?.byteLength ?? 0) : patchBytes(ranges);
  return RECORD_OVERHEAD_BYTES + Buffer.byteLength(storeKey) + valueBytes;
}

/** Writes a patch's value: the patched value's length, then each range as offset, length, bytes. */
function writePatch(out: Buffer, offset: number, value: Uint8Array, ranges: ByteRanges): number {
  let at = out.writeUInt32BE(value.byteLength, offset);
  for (let index = 0; index < ranges.length; index += 2) {
    const start = ranges[index] as number;
    const end = ranges[index + 1] as number;
    at = out.writeUInt32BE(start, at);
    at = out.writeUInt32BE(end - start, at);
    out.set(value.subarray(start, end), at);
    at += end - start;
  }
  return at;
}

/** Writes the header and the records into one buffer of `totalBytes` (the sum of their recordSize). */
function encodeRecords(kind: number, records: readonly EncodableRecord[], totalBytes: number): Uint8Array {
  const out = Buffer.allocUnsafe(totalBytes);
  out.writeUInt8(FORMAT_VERSION, 0);
  out.writeUInt8(kind, 1);
  let offset = HEADER_BYTES;
  for (const { op, storeKey, value, ranges } of records) {
    out.writeUInt8(op, offset);
    const keyBytes = out.write(storeKey, offset + 5, 'utf8');
    out.writeUInt32BE(keyBytes, offset + 1);
    offset += 5 + keyBytes;
    if (value !== undefined && ranges !== undefined) {
      out.writeUInt32BE(patchBytes(ranges), offset);
      offset = writePatch(out, offset + 4, value, ranges);
      continue;
    }
    out.writeUInt32BE(value?.byteLength ?? 0, offset);
    offset += 4;
    if (value !== undefined) {
      out.set(value, offset);
      offset += value.byteLength;
    }
  }
  return out;
}

/** Where one checked record lies in its chunk or delta: the key, then 4 bytes of value length, then the value. */
interface CheckedRecord {
  readonly op: number;
  readonly keyStart: number;
  readonly keyEnd: number;
  readonly valueEnd: number;
}

const NAMESPACE_BYTES = new Set(Object.values(NAMESPACE_PREFIX).map((prefix) => prefix.charCodeAt(0)));

/** Walks the records of a chunk or delta, checking each; `visit` sees each checked record. */
function walkRecords(data: Buffer, expectedKind: number, visit: (record: CheckedRecord) => void): void {
  if (data.byteLength < HEADER_BYTES) throw badData(`state data of ${data.byteLength} bytes has no header`);
  if (data.readUInt8(0) !== FORMAT_VERSION) throw badData(`state data format version ${data.readUInt8(0)}`);
  const kind = data.readUInt8(1);
  if (kind !== expectedKind) {
    throw badData(
      `expected a ${expectedKind === KIND_SNAPSHOT ? 'snapshot chunk' : 'delta'}, got kind ${kind}`,
    );
  }
  let offset = HEADER_BYTES;
  while (offset < data.byteLength) {
    if (offset + RECORD_OVERHEAD_BYTES > data.byteLength) throw badData(`truncated record at byte ${offset}`);
    const op = data.readUInt8(offset);
    const keyLength = data.readUInt32BE(offset + 1);
    const keyEnd = offset + 5 + keyLength;
    if (keyEnd + 4 > data.byteLength) throw badData(`truncated key at byte ${offset}`);
    const valueEnd = keyEnd + 4 + data.readUInt32BE(keyEnd);
    if (valueEnd > data.byteLength) throw badData(`truncated value at byte ${offset}`);
    if (keyLength === 0 || !NAMESPACE_BYTES.has(data[offset + 5] as number)) {
      throw badData(`record key in unknown namespace at byte ${offset}`);
    }
    if (op !== OP_PUT && !((op === OP_DELETE || op === OP_PATCH) && kind === KIND_DELTA)) {
      throw badData(`record op ${op} not allowed at byte ${offset}`);
    }
    if (op === OP_PATCH) checkPatch(data, keyEnd + 4, valueEnd, offset);
    visit({ op, keyStart: offset + 5, keyEnd, valueEnd });
    offset = valueEnd;
  }
}

/**
 * Calls `visit` with each range of the patch in data[start, end): where it goes in the value, and
 * where its bytes lie in `data`. The patch must have been checked (checkPatch).
 */
function forEachPatchRange(
  data: Buffer,
  start: number,
  end: number,
  visit: (offset: number, bytesStart: number, bytesEnd: number) => void,
): void {
  for (let at = start + PATCH_HEADER_BYTES; at < end;) {
    const bytesStart = at + PATCH_RANGE_OVERHEAD_BYTES;
    const bytesEnd = bytesStart + data.readUInt32BE(at + 4);
    visit(data.readUInt32BE(at), bytesStart, bytesEnd);
    at = bytesEnd;
  }
}

/** A patch's ranges must be whole, in order, disjoint and inside the value it patches. */
function checkPatch(data: Buffer, start: number, end: number, recordAt: number): void {
  if (start + PATCH_HEADER_BYTES > end) throw badData(`truncated patch at byte ${recordAt}`);
  const valueBytes = data.readUInt32BE(start);
  let valueAt = 0;
  for (let at = start + PATCH_HEADER_BYTES; at < end;) {
    if (at + PATCH_RANGE_OVERHEAD_BYTES > end) throw badData(`truncated patch range at byte ${recordAt}`);
    const offset = data.readUInt32BE(at);
    const length = data.readUInt32BE(at + 4);
    at += PATCH_RANGE_OVERHEAD_BYTES + length;
    if (length === 0 || offset < valueAt || offset + length > valueBytes || at > end) {
      throw badData(`patch range out of order or out of bounds at byte ${recordAt}`);
    }
    valueAt = offset + length;
  }
}
