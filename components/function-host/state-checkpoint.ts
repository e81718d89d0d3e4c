// Keeps an owned service's state across a restart of the function host (a Greengrass deployment that
// updates or restarts the component): on a clean stop the state is written to
// <dir>/<service>.checkpoint, and the next start takes it back and serves as owner at the same epoch.
// Used by function-host.ts; the records are the state store's own snapshot chunks (state-store.ts).
// Invariant: a checkpoint is taken back at most once (it is removed once the service serves from it),
// so a crash later never brings back state older than what was served since; a file that fails its
// checks is moved aside, never applied in part, never deleted.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';

import { Ajv } from 'ajv';

import { EdgeShiftError } from '../common/errors.ts';
import { StateStore } from './state-store.ts';

const MAGIC = 'EDGESHIFT-CHECKPOINT 1\n';
/** The state store's snapshot chunks, written one at a time: a large state is never copied whole. */
const CHUNK_BYTES = 4 * 1024 * 1024;
const LENGTH_BYTES = 4;

/** After it, each chunk follows as a 32-bit big-endian length and that many bytes. */
interface CheckpointHeader {
  readonly service: string;
  readonly epoch: number;
  readonly stateChecksum: string;
  readonly chunkCount: number;
}

const validateHeader = new Ajv({ allErrors: true }).compile<CheckpointHeader>({
  type: 'object',
  required: ['service', 'epoch', 'stateChecksum', 'chunkCount'],
  additionalProperties: false,
  properties: {
    service: { type: 'string', minLength: 1 },
    epoch: { type: 'integer', minimum: 0 },
    stateChecksum: { type: 'string', minLength: 1 },
    chunkCount: { type: 'integer', minimum: 0 },
  },
});

export interface RestoredState {
  readonly epoch: number;
  readonly store: StateStore;
  /** Removes the checkpoint: call once the service serves from the restored state. */
  discard(): Promise<void>;
}

export function checkpointPath(dir: string, service: string): string {
  return path.join(dir, `${service}.checkpoint`);
}

/**
 * Writes the whole state of `service` at `epoch`: to a temporary file first, flushed to disk, then
 * renamed over the checkpoint, so a stop cut short leaves the previous file or none, never half of one.
 */
export async function writeCheckpoint(
  dir: string,
  service: string,
  epoch: number,
  store: StateStore,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const target = checkpointPath(dir, service);
  const temporary = `${target}.${randomBytes(4).toString('hex')}.tmp`;
  const snapshot = store.beginSnapshot(CHUNK_BYTES);
  try {
    const header: CheckpointHeader = {
      service,
      epoch,
      stateChecksum: snapshot.stateChecksum,
      chunkCount: snapshot.chunkCount,
    };
    const file = await open(temporary, 'w');
    try {
      // writeFile goes on from the current position and writes all of it, short writes included.
      await file.writeFile(`${MAGIC}${JSON.stringify(header)}\n`);
      for (let index = 0; index < snapshot.chunkCount; index += 1) {
        const chunk = snapshot.readChunk(index);
        const length = Buffer.alloc(LENGTH_BYTES);
        length.writeUInt32BE(chunk.byteLength);
        await file.writeFile(length);
        await file.writeFile(chunk);
      }
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, target);
    return target;
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  } finally {
    store.endTracking();
  }
}

function badCheckpoint(file: string, problem: string): EdgeShiftError {
  return new EdgeShiftError('ERR_FNHOST_BAD_CHECKPOINT', `state checkpoint ${file}: ${problem}`, {
    context: { file },
  });
}

/** The header line after the magic, and where the chunks begin. */
function parseHeader(file: string, bytes: Buffer): { header: CheckpointHeader; bodyStart: number } {
  if (!bytes.subarray(0, MAGIC.length).equals(Buffer.from(MAGIC))) {
    throw badCheckpoint(file, 'does not start with the checkpoint magic line');
  }
  const headerEnd = bytes.indexOf(0x0a, MAGIC.length);
  if (headerEnd < 0) throw badCheckpoint(file, 'has no header line');
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8', MAGIC.length, headerEnd));
  } catch {
    throw badCheckpoint(file, 'its header is not JSON');
  }
  if (!validateHeader(parsed)) {
    const reasons = (validateHeader.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
    throw badCheckpoint(file, `its header is invalid: ${reasons.join('; ')}`);
  }
  return { header: parsed, bodyStart: headerEnd + 1 };
}

/** Applies every chunk to a new store and checks the result against the header; throws on any mismatch. */
function restoreStore(
  file: string,
  service: string,
  minEpoch: number,
  bytes: Buffer,
): { epoch: number; store: StateStore } {
  const { header, bodyStart } = parseHeader(file, bytes);
  if (header.service !== service)
    throw badCheckpoint(file, `holds service ${header.service}, not ${service}`);
  if (header.epoch < minEpoch) {
    throw badCheckpoint(file, `holds epoch ${header.epoch}, older than the configured epoch ${minEpoch}`);
  }
  const store = new StateStore();
  let offset = bodyStart;
  for (let index = 0; index < header.chunkCount; index += 1) {
    const length = offset + LENGTH_BYTES <= bytes.byteLength ? bytes.readUInt32BE(offset) : -1;
    const end = offset + LENGTH_BYTES + length;
    if (length < 0 || end > bytes.byteLength) throw badCheckpoint(file, `is cut short in chunk ${index}`);
    try {
      store.importChunk(bytes.subarray(offset + LENGTH_BYTES, end));
    } catch (err) {
      throw badCheckpoint(file, `chunk ${index} is malformed (${(err as Error).message})`);
    }
    offset = end;
  }
  if (offset !== bytes.byteLength) {
    throw badCheckpoint(file, `has ${bytes.byteLength - offset} bytes after its last chunk`);
  }
  const checksum = store.checksum();
  if (checksum !== header.stateChecksum) {
    throw badCheckpoint(file, `its state sums to ${checksum}, its header says ${header.stateChecksum}`);
  }
  return { epoch: header.epoch, store };
}

/**
 * Takes back the checkpoint of `service`, or undefined when there is none. A file that fails a check
 * (or holds an epoch older than `minEpoch`, the configuration's) is renamed to <file>.rejected, kept
 * for inspection, and ERR_FNHOST_BAD_CHECKPOINT says why.
 */
export async function readCheckpoint(
  dir: string,
  service: string,
  minEpoch: number,
): Promise<RestoredState | undefined> {
  const file = checkpointPath(dir, service);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw badCheckpoint(file, `cannot be read (${(err as Error).message})`);
  }
  try {
    const { epoch, store } = restoreStore(file, service, minEpoch, bytes);
    return { epoch, store, discard: () => rm(file, { force: true }) };
  } catch (err) {
    await rename(file, `${file}.rejected`);
    throw err;
  }
}
