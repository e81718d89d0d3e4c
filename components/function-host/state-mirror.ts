// Both ends of a source that serves through its freeze. With a direct hand-off, the old owner does not
// stop at its last delta: it keeps running requests, and the writes of each one it finishes go to the
// new owner as a numbered mirror (MirrorSender). The client's reply waits for the new owner's receipt
// of that mirror and of every earlier one, so a reply is never out before its writes are on the node
// that takes over, even if the old owner dies the next moment. The new owner keeps the mirrors of its
// import (MirrorInbox), applies them in order from its activation on, and runs nothing of its own
// until the old owner's hand-over marker says how many there are and all of them are applied.
// So a request pays one round trip between the two nodes instead of waiting out the freeze.
// Neighbours: service-runtime.ts drives both; control-handlers.ts seals and opens the mirrors
// (hand-off-seal.ts); request-wire.ts carries them and the receipts (mirrorAck).

export interface HeldReply {
  /** The request's id: a duplicate of it gets no second reply while this one waits. */
  readonly id: string;
  readonly send: () => void;
}

export interface MirrorSenderOptions {
  /** The datagrams of mirror `seq` (sealed, in parts), as they go to the new owner's service port. */
  readonly seal: (seq: number, delta: Uint8Array) => readonly Uint8Array[];
  /** Sends one datagram to the new owner's service port. */
  readonly send: (bytes: Uint8Array) => void;
  /** How often mirrors without a receipt are sent again. */
  readonly resendMs: number;
  /** Mirrors still without a receipt this long after the last one came are given up (onGiveUp). */
  readonly giveUpMs: number;
  readonly onGiveUp: (heldReplies: number) => void;
}

/** The old owner's side: numbers and sends mirrors, resends them until received, then lets replies out. */
export class MirrorSender {
  /** The epoch of the move: receipts for another move are not this one's. */
  readonly epoch: number;
  readonly #options: MirrorSenderOptions;
  #sent = 0;
  #received = 0;
  readonly #unreceived = new Map<number, readonly Uint8Array[]>();
  /** Replies in mirror order: each waits for the receipt of the mirror holding its writes. */
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

  /** A reply that waits for its mirror's receipt: it goes out then, once. */
  isHeld(id: string): boolean {
    return this.#heldIds.has(id);
  }

  /** Sends `delta` as the next mirror; `reply` goes out once it and every earlier mirror are received. */
  mirror(delta: Uint8Array, reply: HeldReply): void {
    const seq = this.#sent;
    this.#sent += 1;
    const datagrams = this.#options.seal(seq, delta);
    this.#unreceived.set(seq, datagrams);
    this.#held.push({ seq, reply });
    this.#heldIds.add(reply.id);
    for (const bytes of datagrams) this.#options.send(bytes);
    if (this.#timer === undefined) {
      this.#lastReceiptMs = performance.now();
      this.#timer = setInterval(() => this.#resend(), this.#options.resendMs);
    }
  }

  /** The new owner holds every mirror below `through`: their replies go out. */
  received(through: number): void {
    if (through <= this.#received || through > this.#sent) return;
    this.#received = through;
    this.#lastReceiptMs = performance.now();
    for (const seq of [...this.#unreceived.keys()]) if (seq < through) this.#unreceived.delete(seq);
    while (this.#held.length > 0 && (this.#held[0]?.seq ?? through) < through) this.#release();
    if (this.#unreceived.size === 0) this.#stopResending();
  }

  /** The move was aborted: this node stays the owner of its writes, so every held reply goes out now. */
  releaseAll(): void {
    this.#stopResending();
    this.#unreceived.clear();
    while (this.#held.length > 0) this.#release();
  }

  close(): void {
    this.#stopResending();
  }

  #release(): void {
    const entry = this.#held.shift();
    if (entry === undefined) return;
    this.#heldIds.delete(entry.reply.id);
    entry.reply.send();
  }

  #resend(): void {
    if (performance.now() - this.#lastReceiptMs > this.#options.giveUpMs) {
      // Without a receipt, a reply would claim writes the new owner may not have: it never goes out.
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
  readonly #waiting = new Map<number, Uint8Array>();
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

  add(seq: number, delta: Uint8Array): void {
    if (seq < this.#received || seq >= this.#received + this.#window) return;
    this.#waiting.set(seq, delta);
    while (this.#waiting.has(this.#received)) this.#received += 1;
  }

  /** The old owner sent `count` mirrors in all. */
  expect(count: number): void {
    this.#expected = count;
  }

  /** The mirrors that may be applied now, in order; each is handed out once. */
  takeReady(): Uint8Array[] {
    const ready: Uint8Array[] = [];
    for (; this.#applied < this.#received; this.#applied += 1) {
      const delta = this.#waiting.get(this.#applied);
      this.#waiting.delete(this.#applied);
      if (delta !== undefined) ready.push(delta);
    }
    return ready;
  }
}
