// Both ends of a source that serves through its freeze. With a direct hand-off, the old owner does not
// stop at its last delta: it keeps running requests, and each one it finishes goes to the new owner as
// a numbered mirror of its writes and its reply (MirrorSender). The new owner sends the reply to the
// client once it holds that mirror and every earlier one, and tells the old owner so; a reply is never
// out before its writes are on the node that takes over, even if the old owner dies the next moment.
// The new owner keeps the mirrors of its import (MirrorInbox), applies them in order from its
// activation on, and runs nothing of its own until the old owner's hand-over marker says how many
// there are and all of them are applied. So a request pays one hop between the two nodes instead of
// waiting out the freeze. If the move aborts, the old owner sends the replies not yet acknowledged
// itself: it keeps its writes (one acknowledged an instant before may then reach its client twice,
// as a retried request's recorded reply may).
// Neighbours: service-runtime.ts drives both; control-handlers.ts seals and opens the mirrors
// (hand-off-seal.ts); request-wire.ts carries them and the receipts (mirrorAck).
import type { UdpAddress } from './function-host-api.ts';
import type { MirrorContent } from './hand-off-seal.ts';

export interface HeldReply extends MirrorContent {
  /** The request's id: a duplicate of it gets no second reply while this one waits. */
  readonly id: string;
}

export interface MirrorSenderOptions {
  /** The datagrams of mirror `seq` (sealed, in parts), as they go to the new owner's service port. */
  readonly seal: (seq: number, content: MirrorContent) => readonly Uint8Array[];
  /** Sends a reply from this node, when the move is aborted. */
  readonly sendReply: (reply: Uint8Array, replyTo: UdpAddress) => void;
  /** Sends one datagram to the new owner's service port. */
  readonly send: (bytes: Uint8Array) => void;
  /** How often mirrors without a receipt are sent again. */
  readonly resendMs: number;
  /** Mirrors still without a receipt this long after the last one came are given up (onGiveUp). */
  readonly giveUpMs: number;
  readonly onGiveUp: (heldReplies: number) => void;
}

/** The old owner's side: numbers and sends mirrors, and resends them until they are received. */
export class MirrorSender {
  /** The epoch of the move: receipts for another move are not this one's. */
  readonly epoch: number;
  readonly #options: MirrorSenderOptions;
  #sent = 0;
  #received = 0;
  readonly #unreceived = new Map<number, readonly Uint8Array[]>();
  /** Replies in mirror order, until the new owner acknowledges their mirror (and has sent them). */
  readonly #held: { readonly seq: number; readonly reply: HeldReply }[] = [];
  readonly #heldIds = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #lastReceiptMs = 0;

  constructor(epoch: number, options: MirrorSenderOptions) {
    this.epoch = epoch;
    this.#options = options;
  }

  /** How many mirrors were sent: the hand-over marker names this number. */
  get sent(): number {
    return this.#sent;
  }

  get heldReplies(): number {
    return this.#held.length;
  }

  /** A reply that waits for its mirror's receipt: the new owner sends it then, once. */
  isHeld(id: string): boolean {
    return this.#heldIds.has(id);
  }

  /** Sends the next mirror; the new owner sends its reply once it has it and every earlier one. */
  mirror(reply: HeldReply): void {
    const seq = this.#sent;
    this.#sent += 1;
    const datagrams = this.#options.seal(seq, reply);
    this.#unreceived.set(seq, datagrams);
    this.#held.push({ seq, reply });
    this.#heldIds.add(reply.id);
    for (const bytes of datagrams) this.#options.send(bytes);
    if (this.#timer === undefined) {
      this.#lastReceiptMs = performance.now();
      this.#timer = setInterval(() => this.#resend(), this.#options.resendMs);
    }
  }

  /** The new owner holds every mirror below `through`, and has sent their replies. */
  received(through: number): void {
    if (through <= this.#received || through > this.#sent) return;
    this.#received = through;
    this.#lastReceiptMs = performance.now();
    for (const seq of [...this.#unreceived.keys()]) if (seq < through) this.#unreceived.delete(seq);
    while (this.#held.length > 0 && (this.#held[0]?.seq ?? through) < through) this.#take();
    if (this.#unreceived.size === 0) this.#stopResending();
  }

  /** The move was aborted: this node keeps its writes, so it sends every reply still held itself. */
  releaseAll(): void {
    this.#stopResending();
    this.#unreceived.clear();
    for (let reply = this.#take(); reply !== undefined; reply = this.#take()) {
      this.#options.sendReply(reply.reply, reply.replyTo);
    }
  }

  close(): void {
    this.#stopResending();
  }

  #take(): HeldReply | undefined {
    const entry = this.#held.shift();
    if (entry === undefined) return undefined;
    this.#heldIds.delete(entry.reply.id);
    return entry.reply;
  }

  #resend(): void {
    if (performance.now() - this.#lastReceiptMs > this.#options.giveUpMs) {
      // Without a receipt, a reply would claim writes the new owner may not have: this node never sends it.
      const heldReplies = this.#held.length;
      this.#held.length = 0;
      this.#heldIds.clear();
      this.#unreceived.clear();
      this.#stopResending();
      this.#options.onGiveUp(heldReplies);
      return;
    }
    for (const datagrams of this.#unreceived.values())
      for (const bytes of datagrams) this.#options.send(bytes);
  }

  #stopResending(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** The new owner's side: the mirrors of one import, applied in unbroken order from mirror 0. */
export class MirrorInbox {
  readonly epoch: number;
  /** Mirrors further ahead of the unbroken run than this are not kept (the source resends them). */
  readonly #window: number;
  readonly #waiting = new Map<number, MirrorContent>();
  #received = 0;
  #applied = 0;
  #expected: number | undefined;

  constructor(epoch: number, window: number) {
    this.epoch = epoch;
    this.#window = window;
  }

  /** The receipt to give: every mirror below this number is here (applied or waiting). */
  get received(): number {
    return this.#received;
  }

  /** The old owner's marker came and every mirror it named is applied. */
  get isComplete(): boolean {
    return this.#expected !== undefined && this.#applied >= this.#expected;
  }

  /** Keeps mirror `seq`; returns the mirrors it completes the unbroken run with, in order (to answer). */
  add(seq: number, content: MirrorContent): MirrorContent[] {
    if (seq < this.#received || seq >= this.#received + this.#window) return [];
    this.#waiting.set(seq, content);
    const completed: MirrorContent[] = [];
    for (let next = this.#waiting.get(this.#received); next !== undefined;) {
      completed.push(next);
      this.#received += 1;
      next = this.#waiting.get(this.#received);
    }
    return completed;
  }

  /** The old owner sent `count` mirrors in all. */
  expect(count: number): void {
    this.#expected = count;
  }

  /** The deltas that may be applied now, in order; each is handed out once. */
  takeReady(): Uint8Array[] {
    const ready: Uint8Array[] = [];
    for (; this.#applied < this.#received; this.#applied += 1) {
      const content = this.#waiting.get(this.#applied);
      this.#waiting.delete(this.#applied);
      if (content !== undefined) ready.push(content.delta);
    }
    return ready;
  }
}
