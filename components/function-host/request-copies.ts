// The new owner's side of copied requests. A frozen source with a direct hand-off copies each request
// that waits in its freeze to the new owner as it comes (service-runtime.ts), numbered from 0. The new
// owner keeps the copies of its import here and runs them once its own CLAIM is accepted
// (control-handlers.ts), instead of waiting for the old owner to hear of the cutover and forward them:
// the oldest requests of the freeze save that hop. The old owner still forwards every original at its
// hand-over, so a copy that never runs costs nothing; the runtime answers only once per request.
// Invariant: copies run in unbroken order from copy 0, so a lost copy leaves it and every later one to
// the forwarded originals and per-key order holds.
import type { FunctionRequest } from './request-wire.ts';

export class RequestCopies {
  /** The epoch of the import the copies are for: copies of another move are not kept. */
  readonly epoch: number;
  readonly #limit: number;
  readonly #waiting = new Map<number, FunctionRequest>();
  #next = 0;
  #isReleased = false;
  #isClosed = false;

  /** At most `limit` copies wait at once (the source's maxBufferedRequests); the rest are not kept. */
  constructor(epoch: number, limit: number) {
    this.epoch = epoch;
    this.#limit = limit;
  }

  /** Keeps copy `seq`; returns the copies that may run now, in order (none before release()). */
  add(seq: number, request: FunctionRequest): FunctionRequest[] {
    if (this.#isClosed || seq < this.#next || this.#waiting.size >= this.#limit) return [];
    this.#waiting.set(seq, request);
    return this.#isReleased ? this.#takeRunnable() : [];
  }

  /** The new owner's CLAIM was accepted: the copies that may run now, in order; later ones as they come. */
  release(): FunctionRequest[] {
    if (this.#isClosed) return [];
    this.#isReleased = true;
    return this.#takeRunnable();
  }

  /** The old owner's hand-over marker came: every original is in, so no copy is needed any more. */
  close(): void {
    this.#isClosed = true;
    this.#waiting.clear();
  }

  #takeRunnable(): FunctionRequest[] {
    const runnable: FunctionRequest[] = [];
    for (let request = this.#waiting.get(this.#next); request !== undefined;) {
      this.#waiting.delete(this.#next);
      runnable.push(request);
      this.#next += 1;
      request = this.#waiting.get(this.#next);
    }
    return runnable;
  }
}
