// Runs the state-transfer code once at start on scratch stores: snapshot, chunk import, and the last
// delta sealed, cut into parts, put together and opened as a direct hand-off, then checksum. Cold,
// that code is interpreted and costs two to three times the CPU of later runs, and a node's first
// move would take that CPU from the requests it serves, the hand-off's from its freeze. The copy must
// come out with the source's checksum: a host whose transfer code disagrees with itself refuses to start.
import { EdgeShiftError } from '../common/errors.ts';
import {
  HandOffAssembly,
  newHandOffKey,
  openHandOff,
  sealHandOff,
  splitHandOff,
  type SealedHandOff,
} from './hand-off-seal.ts';
import { StateStore } from './state-store.ts';

const ENTRIES = 48;
const VALUE_BYTES = 4096;
const CHUNK_BYTES = 64 * 1024;
const ROUNDS = 3;
/** Small parts, so that the warm-up puts a hand-off of several together. */
const HAND_OFF_PART_CHARS = 16 * 1024;

function selfCheckFailed(what: string): EdgeShiftError {
  return new EdgeShiftError(
    'ERR_MIGRATION_CHECKSUM_MISMATCH',
    `the state-transfer self-check at start: ${what}`,
  );
}

/** The delta as the target gets it from a direct hand-off: sealed, in parts, put together, opened. */
function throughHandOff(delta: Uint8Array, stateChecksum: string, round: number): Uint8Array {
  const key = newHandOffKey();
  const ref = { service: 'warm-up', migrationId: `warm-up-${round}`, epoch: round };
  let assembly: HandOffAssembly | undefined;
  let whole: SealedHandOff | undefined;
  for (const part of splitHandOff(sealHandOff(key, ref, { stateChecksum, delta }), HAND_OFF_PART_CHARS)) {
    assembly ??= new HandOffAssembly(part);
    whole = assembly.add(part);
  }
  if (whole === undefined) throw selfCheckFailed('a hand-off in parts did not come back whole');
  return openHandOff(key, whole).delta;
}

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
  // Rewritten at the same length with a few bytes changed: these travel as patches.
  const edited = new Uint8Array(value);
  edited.fill(round + 1, 100, 112);
  for (let index = 2; index < ENTRIES; index += 3) app.put(`warm-up-${index}`, edited);
  app.delete('warm-up-0');
  // Larger than a hand-off part: the delta travels in several.
  app.put('warm-up-1', new Uint8Array(HAND_OFF_PART_CHARS * 2).fill(round));
  copy.importDelta(throughHandOff(source.takeDelta().delta, source.checksum(), round));
  source.endTracking();
  if (copy.checksum() !== source.checksum())
    throw selfCheckFailed("the copy's checksum differs from its source");
}

export function warmUpStateTransfer(): void {
  for (let round = 1; round <= ROUNDS; round += 1) transferOnce(round);
}
