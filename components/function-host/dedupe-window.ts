// Duplicate detection for one service: per request key, the ids of the last N processed requests and
// the exact reply each got. Kept in the state store's 'dedupe' namespace, so it migrates with the
// function's state: one entry per remembered reply (found in O(1)) plus one small index per request key
// listing its remembered ids, oldest first. Called by the service runtime. Invariant: a request id
// found here is never processed again; its duplicate is answered with the original reply bytes.
import type { KeyValueState } from './state-store.ts';

/** Length-prefixed, so no key/id pair can collide with another; an empty id names the key's index. */
function entryKey(key: string, id: string): string {
  return `${key.length}:${key}${id}`;
}

function readIndex(state: KeyValueState, key: string): string[] {
  return state.getJson<string[]>(entryKey(key, '')) ?? [];
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
    return this.#state.get(entryKey(key, id));
  }

  record(key: string, id: string, reply: Uint8Array): void {
    const ids = readIndex(this.#state, key);
    ids.push(id);
    for (const evicted of ids.splice(0, Math.max(0, ids.length - this.#entriesPerKey))) {
      this.#state.delete(entryKey(key, evicted));
    }
    this.#state.put(entryKey(key, id), reply);
    this.#state.putJson(entryKey(key, ''), ids);
  }
}
