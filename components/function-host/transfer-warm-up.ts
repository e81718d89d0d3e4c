// Runs the state-transfer code once at start on scratch stores: snapshot, chunk import, delta and
// checksum. Cold, that code is interpreted and costs two to three times the CPU of later runs, and a
// node's first move would take that CPU from the requests it serves during the move. The copy must
// come out with the source's checksum: a host whose transfer code disagrees with itself refuses to start.
import { EdgeShiftError } from '../common/errors.ts';
import { StateStore } from './state-store.ts';

const ENTRIES = 48;
const VALUE_BYTES = 4096;
const CHUNK_BYTES = 64 * 1024;
const ROUNDS = 3;

function transferOnce(round: number): void {
  const source = new StateStore();
  const app = source.namespace('app');
  const value = new Uint8Array(VALUE_BYTES).fill(round);
  for (let index = 0; index < ENTRIES; index += 1) {
    app.put(`warm-up-${index}`, value);
    app.putJson(`warm-up-json-${index}`, { index, round });
  }
  const snapshot = source.beginSnapshot(CHUNK_BYTES);
  const copy = new StateStore();
  for (let index = 0; index < snapshot.chunkCount; index += 1) copy.importChunk(snapshot.readChunk(index));
  for (let index = 0; index < ENTRIES; index += 4) app.putJson(`warm-up-json-${index}`, { index, round: -1 });
  app.delete('warm-up-0');
  copy.importDelta(source.takeDelta().delta);
  source.endTracking();
  if (copy.checksum() !== source.checksum()) {
    throw new EdgeShiftError(
      'ERR_MIGRATION_CHECKSUM_MISMATCH',
      'the state-transfer self-check at start produced a copy whose checksum differs from its source',
    );
  }
}

export function warmUpStateTransfer(): void {
  for (let round = 1; round <= ROUNDS; round += 1) transferOnce(round);
}
