// Benchmark of the function host's state store (components/function-host/state-store.ts) holding the
// sample application's sensor-stats state: cost of a put with the incremental checksum, snapshot export
// and import throughput in 1 MiB chunks (memory bounded: one chunk at a time), the freeze-path cost
// of taking and applying a delta of 1,000 changed keys and its size (each window gained a reading, so
// each key travels as a patch), and what tracking those changes adds to a put that rewrites a window,
// against the same put untracked, for 1 MiB and 64 MiB of state (8 MiB quick).
// In one process, no transport: the ceiling the migration's transfer can reach on this machine.
import {
  sensorWindowBytes,
  addReading,
  decodeWindow,
  emptyWindow,
  encodeWindow,
} from '../../components/sample-app/sensor-window.ts';
import { StateStore } from '../../components/function-host/state-store.ts';
import type { Benchmark, Metrics } from './harness.ts';

const MIB = 1 << 20;
const WINDOW_LENGTH = 32;
const PADDING_BYTES = 2048 - sensorWindowBytes(WINDOW_LENGTH, 0);
const CHUNK_BYTES = MIB;
const DELTA_KEYS = 1000;

function filledStore(stateBytes: number): { store: StateStore; keys: number; fillMs: number } {
  const store = new StateStore();
  const state = store.namespace('app');
  const value = encodeWindow(addReading(emptyWindow(WINDOW_LENGTH, PADDING_BYTES), 21.5));
  const keys = Math.ceil(stateBytes / value.byteLength);
  const startedMs = performance.now();
  for (let i = 0; i < keys; i += 1) state.put(`sensor-${i}`, value);
  return { store, keys, fillMs: performance.now() - startedMs };
}

/** Microseconds per put of a window that gained one reading, over the first `count` keys. */
function rewriteUs(store: StateStore, count: number, reading: number): number {
  const state = store.namespace('app');
  const startedMs = performance.now();
  for (let i = 0; i < count; i += 1) {
    const key = `sensor-${i}`;
    state.put(
      key,
      encodeWindow(addReading(decodeWindow(state.get(key)!, WINDOW_LENGTH, PADDING_BYTES), reading)),
    );
  }
  return ((performance.now() - startedMs) * 1000) / count;
}

function measureSize(stateBytes: number, label: string): Metrics {
  const { store, keys, fillMs } = filledStore(stateBytes);
  const rewrites = Math.min(keys, DELTA_KEYS);
  const untrackedRewriteUs = rewriteUs(store, rewrites, 20);
  const target = new StateStore();
  const startedMs = performance.now();
  const snapshot = store.beginSnapshot(CHUNK_BYTES);
  let exportMs = 0;
  let importMs = 0;
  for (let index = 0; index < snapshot.chunkCount; index += 1) {
    const readStartMs = performance.now();
    const chunk = snapshot.readChunk(index);
    const importStartMs = performance.now();
    target.importChunk(chunk);
    exportMs += importStartMs - readStartMs;
    importMs += performance.now() - importStartMs;
  }
  const transferMs = performance.now() - startedMs;
  const trackedRewriteUs = rewriteUs(store, rewrites, 21);
  target.importDelta(store.takeDelta().delta);
  const state = store.namespace('app');
  const changed = encodeWindow(addReading(addReading(emptyWindow(WINDOW_LENGTH, PADDING_BYTES), 21.5), 22));
  for (let i = 0; i < DELTA_KEYS; i += 1) state.put(`sensor-${(i * 7919) % keys}`, changed);
  const deltaStartMs = performance.now();
  const { delta } = store.takeDelta();
  target.importDelta(delta);
  const deltaMs = performance.now() - deltaStartMs;
  if (target.checksum() !== store.checksum())
    throw new Error(`${label}: checksums differ after the transfer`);
  return {
    [`putUs${label}`]: (fillMs * 1000) / keys,
    [`snapshotExportMiBPerS${label}`]: snapshot.snapshotBytes / MIB / (exportMs / 1000),
    [`snapshotImportMiBPerS${label}`]: snapshot.snapshotBytes / MIB / (importMs / 1000),
    [`transferMs${label}`]: transferMs,
    [`delta1000KeysMs${label}`]: deltaMs,
    [`delta1000KeysBytes${label}`]: delta.byteLength,
    [`rewriteUs${label}`]: untrackedRewriteUs,
    [`trackedRewriteUs${label}`]: trackedRewriteUs,
    [`trackedOverUntrackedRewrite${label}`]: trackedRewriteUs / untrackedRewriteUs,
  };
}

export const benchmark: Benchmark = {
  name: 'function-host-state',
  description: 'state store: put cost, snapshot export/import MiB/s in 1 MiB chunks, 1000-key delta ms',
  run: ({ isQuick }) =>
    Promise.resolve({
      ...measureSize(MIB, '1MiB'),
      ...measureSize((isQuick ? 8 : 64) * MIB, isQuick ? '8MiB' : '64MiB'),
    }),
};
