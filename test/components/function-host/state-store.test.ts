import assert from 'node:assert/strict';

import fc from 'fast-check';

import { hasErrorCode } from '../../../components/common/errors.ts';
import { StateStore, type KeyValueState } from '../../../components/function-host/state-store.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

type Update =
  | { kind: 'put'; key: string; value: Uint8Array }
  | { kind: 'delete'; key: string }
  | { kind: 'edit'; key: string; at: number; byte: number };

function apply(store: StateStore, update: Update): void {
  const state = store.namespace('app');
  if (update.kind === 'put') state.put(update.key, update.value);
  else if (update.kind === 'delete') state.delete(update.key);
  else editInPlace(state, update.key, update.at, update.byte);
}

/** Rewrites a value at the same length with one byte changed, as a function updating its state does. */
function editInPlace(state: KeyValueState, key: string, at: number, byte: number): void {
  const value = state.get(key);
  if (value === undefined || value.byteLength === 0) return;
  value[at % value.byteLength] = byte;
  state.put(key, value);
}

/** Copies the whole state of `source` into a fresh store through snapshot chunks. */
function copyThroughSnapshot(
  source: StateStore,
  chunkBytes: number,
): { target: StateStore; checksum: string } {
  const target = new StateStore();
  const snapshot = source.beginSnapshot(chunkBytes);
  for (let index = 0; index < snapshot.chunkCount; index += 1) target.importChunk(snapshot.readChunk(index));
  return { target, checksum: snapshot.stateChecksum };
}

describe('components/function-host/state-store', () => {
  describe('namespace', () => {
    it('stores bytes and JSON and copies values in and out', () => {
      const state = new StateStore().namespace('app');
      const value = bytes('abc');
      state.put('k', value);
      value[0] = 0;
      assert.deepEqual(state.get('k'), bytes('abc'), 'mutating the input must not change the stored value');
      const read = state.get('k') as Uint8Array;
      read[0] = 0;
      assert.deepEqual(state.get('k'), bytes('abc'), 'mutating the output must not change the stored value');
      state.putJson('j', { count: 3 });
      assert.deepEqual(state.getJson('j'), { count: 3 });
      assert.equal(state.delete('k'), true);
      assert.equal(state.delete('k'), false, 'deleting an absent key reports false');
      assert.equal(state.has('k'), false);
    });

    it('keeps the app and dedupe namespaces apart in keys, sizes and checksums', () => {
      const store = new StateStore();
      store.namespace('app').put('k', bytes('1'));
      store.namespace('dedupe').put('k', bytes('22'));
      assert.deepEqual(store.namespace('app').get('k'), bytes('1'));
      assert.equal(store.keyCount('app'), 1);
      assert.equal(store.byteCount('app'), 2, 'one key byte and one value byte');
      assert.equal(store.byteCount('dedupe'), 3);
      assert.notEqual(store.checksum('app'), store.checksum());
    });
  });

  describe('checksum', () => {
    it('is independent of insertion order and returns to the empty value after deletes', () => {
      const a = new StateStore();
      const b = new StateStore();
      const empty = a.checksum();
      a.namespace('app').put('x', bytes('1'));
      a.namespace('app').put('y', bytes('2'));
      b.namespace('app').put('y', bytes('2'));
      b.namespace('app').put('x', bytes('0'));
      b.namespace('app').put('x', bytes('1'));
      assert.equal(a.checksum(), b.checksum(), 'same entries must give the same checksum');
      a.namespace('app').delete('x');
      a.namespace('app').delete('y');
      assert.equal(a.checksum(), empty, 'an emptied store has the empty checksum');
      assert.match(empty, /^sha256sum:[0-9a-f]{64}$/);
    });

    it('differs when a value differs', () => {
      const a = new StateStore();
      const b = new StateStore();
      a.namespace('app').put('x', bytes('1'));
      b.namespace('app').put('x', bytes('2'));
      assert.notEqual(a.checksum(), b.checksum());
    });
  });

  describe('beginSnapshot', () => {
    it('splits the state into chunks no larger than chunkBytes and rebuilds it elsewhere', () => {
      const source = new StateStore();
      for (let i = 0; i < 100; i += 1) source.namespace('app').put(`key-${i}`, new Uint8Array(50).fill(i));
      const snapshot = source.beginSnapshot(256);
      assert.ok(snapshot.chunkCount > 20, `expected many chunks, got ${snapshot.chunkCount}`);
      let total = 0;
      const target = new StateStore();
      for (let index = 0; index < snapshot.chunkCount; index += 1) {
        const chunk = snapshot.readChunk(index);
        assert.ok(chunk.byteLength <= 256, `chunk ${index} has ${chunk.byteLength} bytes`);
        total += chunk.byteLength;
        target.importChunk(chunk);
      }
      assert.equal(total, snapshot.snapshotBytes, 'snapshotBytes is the sum of the chunk sizes');
      assert.equal(target.checksum(), source.checksum());
    });

    it('serves the state at the mark while later writes go on (copy-on-write)', () => {
      const source = new StateStore();
      source.namespace('app').put('a', bytes('old'));
      source.namespace('app').put('b', bytes('gone'));
      const atMark = source.checksum();
      const snapshot = source.beginSnapshot(1024);
      source.namespace('app').put('a', bytes('new'));
      source.namespace('app').delete('b');
      source.namespace('app').put('c', bytes('added'));
      const target = new StateStore();
      target.importChunk(snapshot.readChunk(0));
      assert.equal(target.checksum(), atMark, 'the snapshot must be the state at the mark');
      assert.equal(snapshot.stateChecksum, atMark);
      target.importDelta(source.takeDelta().delta);
      assert.equal(target.checksum(), source.checksum(), 'snapshot + delta must equal the current state');
    });

    it('applies an opened import as paced: part of it per call, all of it in the end', () => {
      const source = new StateStore();
      for (let i = 0; i < 100; i += 1) source.namespace('app').put(`key-${i}`, new Uint8Array(8).fill(i));
      const snapshot = source.beginSnapshot(1 << 16);
      const target = new StateStore();
      const job = target.openChunkImport(snapshot.readChunk(0));
      assert.equal(job.recordCount, 100);
      assert.equal(job.applyFor(0), false, 'a zero budget leaves records for later');
      const applied = target.keyCount('app');
      assert.ok(applied > 0 && applied < 100, `${applied} keys after one slice`);
      let calls = 1;
      while (!job.applyFor(0)) calls += 1;
      assert.ok(calls > 2, `took ${calls} calls`);
      assert.equal(target.checksum(), source.checksum());
    });

    it('gives one empty chunk for an empty state', () => {
      const snapshot = new StateStore().beginSnapshot(64);
      assert.equal(snapshot.chunkCount, 1);
      assert.deepEqual([...snapshot.readChunk(0)], [1, 1], 'header only: format version 1, kind snapshot');
    });

    it('refuses a chunk index out of range and a chunk read after the snapshot was released', () => {
      const store = new StateStore();
      const snapshot = store.beginSnapshot(64);
      assert.throws(
        () => snapshot.readChunk(1),
        (err) => hasErrorCode(err, 'ERR_FNHOST_BAD_REQUEST'),
      );
      store.takeDelta();
      assert.throws(
        () => snapshot.readChunk(0),
        (err) => hasErrorCode(err, 'ERR_FNHOST_NO_EXPORT'),
      );
    });

    it('encodes one record as op, key length, key, value length, value', () => {
      const store = new StateStore();
      store.namespace('app').put('k', bytes('v'));
      const chunk = store.beginSnapshot(64).readChunk(0);
      assert.deepEqual([...chunk], [1, 1, 1, 0, 0, 0, 2, 0x61, 0x6b, 0, 0, 0, 1, 0x76]);
    });
  });

  describe('takeDelta', () => {
    it('carries puts and deletes since the previous mark, then marks again', () => {
      const store = new StateStore();
      store.namespace('app').put('k', bytes('v'));
      store.beginSnapshot(64);
      store.namespace('app').delete('k');
      const first = store.takeDelta();
      assert.equal(first.changedKeys, 1);
      assert.deepEqual([...first.delta], [1, 2, 2, 0, 0, 0, 2, 0x61, 0x6b, 0, 0, 0, 0], 'one delete record');
      assert.equal(store.takeDelta().changedKeys, 0, 'nothing changed since the previous delta');
    });

    it('stops at maxBytes and leaves the rest for the next delta', () => {
      const store = new StateStore();
      store.beginSnapshot(64);
      for (let i = 0; i < 10; i += 1) store.namespace('app').put(`k${i}`, new Uint8Array(100));
      const first = store.takeDelta(300);
      assert.equal(first.changedKeys, 2, 'two records of 112 bytes fit in 300 bytes');
      assert.equal(first.remainingKeys, 8);
      assert.ok(first.delta.byteLength <= 300);
    });

    it('sends a value rewritten at the same length as a patch of the bytes that changed', () => {
      const store = new StateStore();
      store.namespace('app').put('k', new Uint8Array(1000));
      const { target } = copyThroughSnapshot(store, 2048);
      editInPlace(store.namespace('app'), 'k', 10, 7);
      editInPlace(store.namespace('app'), 'k', 11, 8);
      const { delta } = store.takeDelta();
      const patch = [0, 0, 3, 0xe8, 0, 0, 0, 10, 0, 0, 0, 2, 7, 8];
      assert.deepEqual([...delta], [1, 2, 3, 0, 0, 0, 2, 0x61, 0x6b, 0, 0, 0, patch.length, ...patch]);
      target.importDelta(delta);
      assert.equal(target.checksum(), store.checksum());
    });

    it('sends a value whole when its length changed, it changed all over or in too many places', () => {
      const store = new StateStore();
      const state = store.namespace('app');
      state.put('longer', new Uint8Array(100));
      state.put('everywhere', new Uint8Array(100));
      state.put('scattered', new Uint8Array(10_000));
      store.beginSnapshot(1 << 20);
      state.put('longer', new Uint8Array(101));
      for (let at = 0; at < 100; at += 2) editInPlace(state, 'everywhere', at, 1);
      // 65 ranges of one byte: a patch of about 600 bytes, but more places than tracking keeps.
      for (let at = 0; at < 6500; at += 100) editInPlace(state, 'scattered', at, 1);
      const { delta, changedKeys } = store.takeDelta();
      assert.equal(changedKeys, 3);
      const whole = (keyBytes: number, valueBytes: number): number => 9 + keyBytes + valueBytes;
      assert.equal(
        delta.byteLength,
        2 + whole(7, 101) + whole(11, 100) + whole(10, 10_000),
        'three whole puts',
      );
    });

    it('refuses a delta without a mark', () => {
      assert.throws(
        () => new StateStore().takeDelta(),
        (err) => hasErrorCode(err, 'ERR_FNHOST_NO_EXPORT'),
      );
    });
  });

  describe('import', () => {
    it('rejects malformed data without applying any of it', () => {
      const source = new StateStore();
      source.namespace('app').put('a', bytes('1'));
      source.namespace('app').put('b', bytes('2'));
      const chunk = source.beginSnapshot(1024).readChunk(0);
      const target = new StateStore();
      const empty = target.checksum();
      for (const bad of [
        chunk.subarray(0, chunk.byteLength - 1),
        Uint8Array.of(2, 1),
        Uint8Array.of(1, 2),
        Uint8Array.of(1),
      ]) {
        assert.throws(
          () => target.importChunk(bad),
          (err) => hasErrorCode(err, 'ERR_FNHOST_BAD_STATE_DATA'),
        );
      }
      assert.equal(target.checksum(), empty, 'a rejected chunk must change nothing');
    });

    it('refuses a patch without its value, a malformed patch and a key twice in a delta, applying none', () => {
      const source = new StateStore();
      source.namespace('app').put('a', new Uint8Array(100));
      source.namespace('app').put('b', new Uint8Array(100));
      const { target } = copyThroughSnapshot(source, 1024);
      editInPlace(source.namespace('app'), 'a', 5, 1);
      const patchOfA = source.takeDelta().delta;
      const putOfA = Uint8Array.from([1, 2, 1, 0, 0, 0, 2, 0x61, 0x61, 0, 0, 0, 1, 9]);
      // Its range at offset 5 moved past the value's end (100 bytes).
      const outOfBounds = Uint8Array.from(patchOfA);
      outOfBounds.set([0, 0, 0, 100], 17);
      const before = target.checksum();
      for (const [what, delta, into] of [
        ['no value to patch', patchOfA, new StateStore()],
        ['a range past the end', outOfBounds, target],
        ['key twice', Buffer.concat([putOfA, patchOfA.subarray(2)]), target],
      ] as const) {
        assert.throws(
          () => into.importDelta(delta),
          (err) => hasErrorCode(err, 'ERR_FNHOST_BAD_STATE_DATA'),
          what,
        );
      }
      assert.equal(target.checksum(), before, 'a rejected delta must change nothing');
      target.importDelta(patchOfA);
      assert.equal(target.checksum(), source.checksum());
    });
  });

  describe('migration property', () => {
    const keyArb = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'long-key-é');
    // Values long enough to travel as patches, and edits that rewrite one byte of them.
    const updateArb: fc.Arbitrary<Update> = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), key: keyArb, value: fc.uint8Array({ maxLength: 120 }) }),
      fc.record({ kind: fc.constant('delete' as const), key: keyArb }),
      fc.record({ kind: fc.constant('edit' as const), key: keyArb, at: fc.nat(), byte: fc.nat(255) }),
    );

    it('snapshot + any interleaving of updates, chunk reads and deltas imported elsewhere gives an equal checksum', () => {
      fc.assert(
        fc.property(
          fc.array(updateArb, { maxLength: 30 }),
          fc.array(fc.oneof(updateArb, fc.constant('read' as const), fc.constant('delta' as const)), {
            maxLength: 60,
          }),
          fc.integer({ min: 64, max: 200 }),
          (before, during, chunkBytes) => {
            const source = new StateStore();
            before.forEach((update) => apply(source, update));
            const snapshot = source.beginSnapshot(chunkBytes);
            const target = new StateStore();
            let nextChunk = 0;
            const deltas: Uint8Array[] = [];
            for (const step of during) {
              if (step === 'read') {
                if (nextChunk < snapshot.chunkCount && deltas.length === 0) {
                  target.importChunk(snapshot.readChunk(nextChunk));
                  nextChunk += 1;
                }
              } else if (step === 'delta') {
                // Deltas begin once every chunk has been read, as the migration does.
                while (nextChunk < snapshot.chunkCount) target.importChunk(snapshot.readChunk(nextChunk++));
                deltas.push(source.takeDelta(150).delta);
              } else {
                apply(source, step);
              }
            }
            while (nextChunk < snapshot.chunkCount) target.importChunk(snapshot.readChunk(nextChunk++));
            for (const delta of deltas) target.importDelta(delta);
            for (;;) {
              const last = source.takeDelta(150);
              target.importDelta(last.delta);
              if (last.remainingKeys === 0) break;
            }
            assert.equal(target.checksum(), source.checksum(), 'target must hold exactly the source state');
            const { checksum } = copyThroughSnapshot(target, 64);
            assert.equal(checksum, source.checksum());
          },
        ),
        { numRuns: 500 },
      );
    });
  });
});
