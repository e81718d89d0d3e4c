// Checks every reply the load generator receives against the requests it sent: a request with no
// reply within the deadline is lost, a second reply for one id is a duplicate, and a reply whose
// per-key state disagrees with what was sent is wrong state (judged by a StateChecker passed in, so
// the service's semantics stay outside the generator). Used by load-generator.ts; pure, clock passed in.
// Invariant: each sent request ends in exactly one of answered or lost; duplicates are counted apart.

import type { FunctionReply } from '../../components/function-host/request-wire.ts';

export interface TrackedRequest {
  readonly id: string;
  readonly key: string;
  /** Number of this key's requests sent before this one (0 for the key's first request). */
  readonly keyIndex: number;
  /** Position in the schedule (0-based). */
  readonly index: number;
  readonly scheduledAtMs: number;
  readonly sentAtMs: number;
  readonly body: unknown;
}

export interface StateCheckInput {
  readonly request: TrackedRequest;
  readonly reply: FunctionReply;
}

/** Returns why the reply's state is wrong, or undefined when it is right. */
export type StateChecker = (input: StateCheckInput) => string | undefined;

export type ReplyOutcome =
  | { readonly kind: 'answered'; readonly request: TrackedRequest; readonly wrongState?: string }
  | { readonly kind: 'error'; readonly request: TrackedRequest; readonly detail: string }
  | { readonly kind: 'duplicate'; readonly request: TrackedRequest }
  | { readonly kind: 'late'; readonly request: TrackedRequest }
  | { readonly kind: 'unexpected' };

type Status = 'pending' | 'answered' | 'lost';

const COMPACT_AFTER_ENTRIES = 10_000;

interface Entry {
  readonly request: TrackedRequest;
  status: Status;
}

export class ReplyChecker {
  readonly #deadlineMs: number;
  readonly #checkState: StateChecker | undefined;
  readonly #entries = new Map<string, Entry>();
  // Requests in send order: with one deadline for all, the oldest pending one expires first.
  readonly #sendOrder: Entry[] = [];
  #expiryCursor = 0;
  #pendingCount = 0;

  constructor(options: { deadlineMs: number; checkState?: StateChecker }) {
    this.#deadlineMs = options.deadlineMs;
    this.#checkState = options.checkState;
  }

  get pendingCount(): number {
    return this.#pendingCount;
  }

  track(request: TrackedRequest): void {
    const entry: Entry = { request, status: 'pending' };
    this.#entries.set(request.id, entry);
    this.#sendOrder.push(entry);
    this.#pendingCount += 1;
  }

  onReply(reply: FunctionReply): ReplyOutcome {
    const entry = this.#entries.get(reply.id);
    if (entry === undefined) return { kind: 'unexpected' };
    if (entry.status === 'answered') return { kind: 'duplicate', request: entry.request };
    // The caller runs expire() first, so a reply past its deadline finds its request already lost.
    if (entry.status === 'lost') return { kind: 'late', request: entry.request };
    this.#settle(entry, 'answered');
    if (!reply.ok) {
      const detail = reply.error ? `${reply.error.code}: ${reply.error.message}` : 'ok=false without error';
      return { kind: 'error', request: entry.request, detail };
    }
    const wrongState = this.#checkState?.({ request: entry.request, reply });
    return wrongState === undefined
      ? { kind: 'answered', request: entry.request }
      : { kind: 'answered', request: entry.request, wrongState };
  }

  /** Marks every request still pending past its deadline as lost and returns them, oldest first. */
  expire(nowMs: number): TrackedRequest[] {
    const lost: TrackedRequest[] = [];
    while (this.#expiryCursor < this.#sendOrder.length) {
      const entry = this.#sendOrder[this.#expiryCursor] as Entry;
      if (entry.status === 'pending') {
        if (nowMs - entry.request.sentAtMs <= this.#deadlineMs) break;
        this.#settle(entry, 'lost');
        lost.push(entry.request);
      }
      this.#expiryCursor += 1;
    }
    // Drop the settled head now and then, so a long run holds only the in-flight window here.
    if (this.#expiryCursor >= COMPACT_AFTER_ENTRIES) {
      this.#sendOrder.splice(0, this.#expiryCursor);
      this.#expiryCursor = 0;
    }
    return lost;
  }

  #settle(entry: Entry, status: Exclude<Status, 'pending'>): void {
    entry.status = status;
    this.#pendingCount -= 1;
  }
}

/**
 * A StateChecker for counter-like services: the reply body carries the key's count of processed
 * requests, which must equal the number of this key's requests sent before it, plus one when the
 * service counts the request it answers (`countsSelf`, the default). A lost update or a request
 * processed twice shifts every later count of that key.
 */
export function counterStateChecker(
  options: { countField?: string; countsSelf?: boolean } = {},
): StateChecker {
  const countField = options.countField ?? 'count';
  const offset = (options.countsSelf ?? true) ? 1 : 0;
  return ({ request, reply }) => {
    const body = reply.body;
    const count =
      typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[countField] : undefined;
    if (typeof count !== 'number') return `reply body has no numeric "${countField}"`;
    const expected = request.keyIndex + offset;
    return count === expected
      ? undefined
      : `key ${request.key}: ${countField} ${count}, expected ${expected}`;
  };
}
