// Duplicate detection for one service: per request key, the ids of the last N processed requests and
// the exact reply each got. Kept in the state store's 'dedupe' namespace, so it migrates with the
// function's state. Called by the service runtime. Invariant: a request id found here is never
// processed again; its duplicate is answered with the original reply bytes.
import type { KeyValueState } from './state-store.ts';

interface Entry {
  readonly id: string;
  readonly reply: Uint8Array;
}

function decodeEntries(bytes: Uint8Array | undefined): Entry[] {
  if (bytes === undefined) return [];
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: Entry[] = [];
  let offset = 0;
  while (offset + 6 <= data.byteLength) {
    const idLength = data.readUInt16BE(offset);
    const replyLength = data.readUInt32BE(offset + 2 + idLength);
    const replyStart = offset + 6 + idLength;
    entries.push({
      id: data.toString('utf8', offset + 2, offset + 2 + idLength),
      reply: data.subarray(replyStart, replyStart + replyLength),
    });
    offset = replyStart + replyLength;
  }
  return entries;
}

function encodeEntries(entries: readonly Entry[]): Uint8Array {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const id = Buffer.from(entry.id, 'utf8');
    const header = Buffer.allocUnsafe(2 + id.byteLength + 4);
    header.writeUInt16BE(id.byteLength, 0);
    id.copy(header, 2);
    header.writeUInt32BE(entry.reply.byteLength, 2 + id.byteLength);
    parts.push(header, Buffer.from(entry.reply.buffer, entry.reply.byteOffset, entry.reply.byteLength));
  }
  return Buffer.concat(parts);
}

export class DedupeWindow {
  readonly #state: KeyValueState;
  readonly #entriesPerKey: number;

  constructor(state: KeyValueState, entriesPerKey: number) {
    this.#state = state;
    this.#entriesPerKey = entriesPerKey;
  }

  /** The reply a request with this key and id got, if it is still in the window. */
  find(key: string, id: string): Uint8Array | undefined {
    return decodeEntries(this.#state.get(key)).find((entry) => entry.id === id)?.reply;
  }

  record(key: string, id: string, reply: Uint8Array): void {
    const entries = decodeEntries(this.#state.get(key));
    entries.push({ id, reply });
    this.#state.put(key, encodeEntries(entries.slice(-this.#entriesPerKey)));
  }
}
