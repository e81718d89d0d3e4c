// One service on one node: its role in a migration (FunctionRole), its epoch, its state, and the
// request pipeline: duplicate detection, per-key FIFO queues, the freeze buffer, serving through the
// freeze with each write mirrored to the new owner (state-mirror.ts), forwarding to a new owner.
// Driven by the request server (arrivals) and the control handlers (role changes).
// Invariants: a request id is processed at most once; requests with one key run one at a time in
// arrival order; only the owner processes (and a source serving through its freeze, every write of
// which reaches the new owner before its reply goes out), and a node that gave up the epoch never does
// again.
import { timingSafeEqual } from 'node:crypto';

import { EdgeShiftError, type ErrorCode } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { DedupeWindow } from './dedupe-window.ts';
import type {
  FunctionHostResponses,
  FunctionRole,
  HandOverOnNotice,
  UdpAddress,
} from './function-host-api.ts';
import type { FunctionContext, FunctionDefinition } from './function-loader.ts';
import type { MirrorContent } from './hand-off-seal.ts';
import { encodeMessage, type FunctionReply, type FunctionRequest } from './request-wire.ts';
import { MirrorInbox, MirrorSender } from './state-mirror.ts';
import { StateStore } from './state-store.ts';

export interface ServiceRuntimeOptions {
  readonly serviceId: number;
  readonly definition: FunctionDefinition;
  readonly nodeName: string;
  readonly role: FunctionRole;
  readonly epoch: number;
  /** State taken back from a checkpoint (state-checkpoint.ts): served as is, never initialized. */
  readonly store?: StateStore;
  readonly maxBufferedRequests: number;
  readonly dedupeEntriesPerKey: number;
  /** How long a new owner holds direct arrivals waiting for the old owner's hand-over marker. */
  readonly handOverHoldMs: number;
  /** Sends from this service's UDP port. */
  readonly send: (bytes: Uint8Array, to: UdpAddress) => void;
  /** Calls a downstream service (DownstreamClient.call). */
  readonly call: (service: string, id: string, key: string, body: unknown) => Promise<unknown>;
  /** The other node that owns this service by the route table, if any. */
  readonly routedOwner: () => UdpAddress | undefined;
  readonly logger: Logger;
}

/** How a source that serves through its freeze seals mirror `seq` into datagrams (state-mirror.ts). */
export type SealMirror = (seq: number, content: MirrorContent) => readonly Uint8Array[];

/** How often a serving source sends again a mirror the new owner has not acknowledged. */
const MIRROR_RESEND_MS = 25;

/** Mirrors unacknowledged this long are given up: the new owner is gone, and their replies with it. */
const MIRROR_GIVE_UP_MS = 10_000;

function tokensMatch(expected: string, presented: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(presented, 'utf8');
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}

export type FunctionSummaryWithCounters = FunctionHostResponses['listFunctions'][number] & {
  readonly appStateChecksum: string;
  readonly duplicateRequests: number;
  readonly forwardedRequests: number;
  readonly rejectedRequests: number;
};

interface QueuedRequest {
  readonly request: FunctionRequest;
  readonly replyTo: UdpAddress;
  /** Arrival order across keys, so a hand-over forwards in the order requests came. */
  readonly sequence: number;
}

/** Forwards one request may take: old owner -> new owner, plus a route or two while tables settle. */
export const MAX_FORWARD_HOPS = 4;

/** The request as the next node gets it (the client as replyTo), or undefined past MAX_FORWARD_HOPS. */
export function forwardedRequest(request: FunctionRequest, replyTo: UdpAddress): FunctionRequest | undefined {
  const hops = (request.hops ?? 0) + 1;
  return hops > MAX_FORWARD_HOPS ? undefined : { ...request, replyTo, hops };
}

function errorCodeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_') ? code : 'ERR_FNHOST_FUNCTION_FAILED';
}

export class ServiceRuntime {
  readonly name: string;
  readonly serviceId: number;
  readonly isStateful: boolean;
  readonly store: StateStore;
  readonly #options: ServiceRuntimeOptions;
  readonly #dedupe: DedupeWindow;
  #role: FunctionRole;
  #epoch: number;
  #forwardTo: UdpAddress | undefined;
  readonly #queues = new Map<string, QueuedRequest[]>();
  readonly #activeKeys = new Set<string>();
  readonly #pendingIds = new Set<string>();
  #handingOver: Promise<number> | undefined;
  #queuedCount = 0;
  #nextSequence = 0;
  #held: QueuedRequest[] | undefined;
  #holdTimer: NodeJS.Timeout | undefined;
  #idleWaiters: (() => void)[] = [];
  #processed = 0;
  #arrivals = 0;
  #duplicates = 0;
  #forwarded = 0;
  #rejected = 0;
  #handedOverRequests = 0;
  #noticeExpected: HandOverOnNotice | undefined;
  /** Serving through the freeze, and draining receipts after it: the mirrors to the new owner. */
  #mirror: MirrorSender | undefined;
  /** Frozen and still starting requests (serveMirrored), until the hand-over begins. */
  #isServingFrozen = false;
  /** Writes of finishing requests go to #mirror: from serveMirrored until the hand-over's marker. */
  #isMirroring = false;
  /** Importing, then the new owner: the old owner's mirrors, applied from the activation on. */
  #inbox: MirrorInbox | undefined;
  #frozenAtMs = 0;
  #lastFrozenMs = 0;
  #noticeHandOvers = 0;

  constructor(options: ServiceRuntimeOptions) {
    this.#options = options;
    this.name = options.definition.name;
    this.serviceId = options.serviceId;
    this.isStateful = options.definition.isStateful;
    this.#role = options.role;
    this.#epoch = options.epoch;
    this.store = options.store ?? new StateStore();
    this.#dedupe = new DedupeWindow(this.store.namespace('dedupe'), options.dedupeEntriesPerKey);
    if (options.role === 'owner' && options.store === undefined) {
      options.definition.initialize?.(this.store.namespace('app'));
    }
  }

  get role(): FunctionRole {
    return this.#role;
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** Hand-overs that a cutoverNotice started (the rest waited for the agent's handOver call). */
  get noticeHandOvers(): number {
    return this.#noticeHandOvers;
  }

  /** Replies of a serving source whose mirrors the new owner has not acknowledged yet. */
  get heldReplies(): number {
    return this.#mirror?.heldReplies ?? 0;
  }

  /** How long the last freeze held requests: from freeze() until the service left 'frozen'. */
  get lastFrozenMs(): number {
    return this.#lastFrozenMs;
  }

  /** Request datagrams that reached this service on this node, whatever became of them. */
  get arrivals(): number {
    return this.#arrivals;
  }

  /** Requests accepted and not yet answered: running, queued behind their key, buffered or held. */
  get inflightRequests(): number {
    return this.#queuedCount + this.#activeKeys.size;
  }

  summary(): FunctionSummaryWithCounters {
    return {
      service: this.name,
      serviceId: this.serviceId,
      isStateful: this.isStateful,
      role: this.#role,
      epoch: this.#epoch,
      stateKeys: this.store.keyCount('app'),
      stateBytes: this.store.byteCount('app') + this.store.byteCount('dedupe'),
      processedRequests: this.#processed,
      bufferedRequests: this.#queuedCount,
      appStateChecksum: this.store.checksum('app'),
      duplicateRequests: this.#duplicates,
      forwardedRequests: this.#forwarded,
      rejectedRequests: this.#rejected,
    };
  }

  /** A request datagram for this service; `sender` answers unless the request names replyTo. */
  arrive(request: FunctionRequest, sender: UdpAddress): void {
    this.#arrivals += 1;
    const replyTo = request.replyTo ?? sender;
    if (this.#role === 'owner' || this.#role === 'frozen') {
      this.#accept(request, replyTo);
      return;
    }
    const target = this.#forwardTo ?? this.#options.routedOwner();
    if (target !== undefined) {
      this.#forward(request, replyTo, target);
      return;
    }
    this.#replyError(
      request,
      replyTo,
      'ERR_FNHOST_NOT_OWNER',
      `${this.#options.nodeName} does not own ${this.name} (role ${this.#role}) and knows no owner`,
    );
  }

  /**
   * Stops starting requests; resolves once those in progress have finished, with the buffer size.
   * With `notice`, the new owner may end the freeze itself by a cutoverNotice carrying that token.
   */
  async freeze(notice?: HandOverOnNotice): Promise<number> {
    this.#transition(['owner'], 'frozen');
    this.#noticeExpected = notice;
    await this.#whenIdle();
    return this.#queuedCount;
  }

  /**
   * Freezes the state for export but keeps serving: from this instant on, each request that finishes
   * goes to the new owner the notice names as a mirror of its writes and its reply, sealed by `seal`,
   * and the new owner sends the reply on receipt. The caller takes the last delta in the same turn.
   * Serving ends at the hand-over (on the new owner's notice) or at resume.
   */
  serveMirrored(notice: HandOverOnNotice, seal: SealMirror): void {
    this.#transition(['owner'], 'frozen');
    this.#noticeExpected = notice;
    this.#isServingFrozen = true;
    this.#isMirroring = true;
    this.#mirror?.close();
    const context = { service: this.name, epoch: notice.epoch };
    this.#mirror = new MirrorSender(notice.epoch, {
      seal,
      send: (bytes) => this.#options.send(bytes, notice.newOwner),
      sendReply: (bytes, replyTo) => this.#options.send(bytes, replyTo),
      resendMs: MIRROR_RESEND_MS,
      giveUpMs: MIRROR_GIVE_UP_MS,
      onGiveUp: (heldReplies) =>
        this.#options.logger.error('no receipt of mirrored writes: their replies never go out', {
          ...context,
          heldReplies,
        }),
    });
  }

  /**
   * The new owner's word that its cutover is done. A frozen source that expects this epoch and token
   * hands over at once; anything else (a duplicate, a stray, a wrong token) is ignored. True when it
   * handed over.
   */
  cutoverNotice(epoch: number, token: string): boolean {
    const expected = this.#noticeExpected;
    if (this.#role !== 'frozen' || expected === undefined) return false;
    if (expected.epoch !== epoch || !tokensMatch(expected.token, token)) return false;
    const context = { service: this.name, epoch };
    this.#noticeHandOvers += 1;
    void this.handOver(epoch, expected.newOwner).then(
      (forwardedRequests) =>
        this.#options.logger.info("handed over on the new owner's notice", { ...context, forwardedRequests }),
      (err: unknown) => this.#options.logger.warn('hand-over on notice failed', { ...context, err }),
    );
    return true;
  }

  /**
   * Back to owner after an aborted migration: every buffered request is processed, in order; at
   * `epoch` when the source took that epoch back at the data plane (an epoch only grows, so a retried
   * resume changes nothing more).
   */
  resume(epoch?: number): number {
    const buffered = this.#queuedCount;
    if (this.#role === 'frozen') this.#transition(['frozen'], 'owner');
    else this.#requireRole(['owner'], 'resume');
    if (epoch !== undefined && epoch > this.#epoch) this.#epoch = epoch;
    // This node keeps the writes it mirrored, so their replies need no receipt any more.
    this.#mirror?.releaseAll();
    this.#mirror = undefined;
    this.store.endTracking();
    for (const key of [...this.#queues.keys()]) this.#pump(key);
    return buffered;
  }

  /**
   * Gives up the service at `epoch` to `newOwner`: every buffered request is forwarded there in arrival
   * order (the client's address as replyTo), then the hand-over marker; later arrivals are forwarded too.
   */
  handOver(epoch: number, newOwner: UdpAddress): Promise<number> {
    // A retried hand-over, or one the fencing of a newer route already did.
    if (this.#role === 'forwarding' && epoch === this.#epoch)
      return Promise.resolve(this.#handedOverRequests);
    // One under way: a serving source waits for its running requests first.
    this.#handingOver ??= this.#handOver(epoch, newOwner).finally(() => {
      this.#handingOver = undefined;
    });
    return this.#handingOver;
  }

  async #handOver(epoch: number, newOwner: UdpAddress): Promise<number> {
    this.#requireRole(['owner', 'frozen'], 'handOver');
    this.#requireNewerEpoch(epoch, 'handOver');
    if (this.#role === 'owner') await this.freeze();
    // A serving source starts nothing more; what still runs mirrors its writes before the marker.
    this.#isServingFrozen = false;
    await this.#whenIdle();
    const mirrors = this.#isMirroring ? this.#mirror?.sent : undefined;
    this.#transition(['frozen'], 'forwarding');
    this.#epoch = epoch;
    this.#forwardTo = newOwner;
    const items = this.#takeAllQueued();
    for (const item of items) this.#forward(item.request, item.replyTo, newOwner);
    this.#handedOverRequests = items.length;
    const marker = encodeMessage({
      handOverComplete: { service: this.name, epoch, ...(mirrors === undefined ? {} : { mirrors }) },
    });
    // Sent twice: a lost marker costs the new owner its hold timeout, a duplicate costs nothing.
    this.#options.send(marker, newOwner);
    this.#options.send(marker, newOwner);
    this.store.endTracking();
    return items.length;
  }

  /** Fencing: a route to another owner at a newer epoch ends this node's ownership. */
  async fence(epoch: number, owner: UdpAddress): Promise<void> {
    if (epoch <= this.#epoch) return;
    if (this.#role === 'owner' || this.#role === 'frozen') {
      this.#options.logger.warn('fenced by a newer route', { service: this.name, epoch, owner });
      await this.handOver(epoch, owner);
    }
    // A hand-over already under way may have been to an older epoch.
    if (epoch <= this.#epoch) return;
    this.#epoch = epoch;
    this.#forwardTo = owner;
  }

  /** Starts importing the state for `epoch`; with `isMirrored`, the old owner serves through its freeze. */
  beginImport(epoch: number, isMirrored: boolean): void {
    this.#transition(['standby', 'forwarding', 'importing'], 'importing');
    this.store.clear();
    this.#inbox = isMirrored ? new MirrorInbox(epoch, this.#options.maxBufferedRequests) : undefined;
  }

  /** The imported state becomes the owner at `epoch`; direct arrivals wait for the hand-over marker. */
  activate(epoch: number): void {
    this.#requireRole(['importing'], 'activate');
    this.#requireNewerEpoch(epoch, 'activate');
    this.#transition(['importing'], 'owner');
    this.#epoch = epoch;
    this.#forwardTo = undefined;
    this.store.endTracking();
    this.#applyMirrors();
    if (this.#options.handOverHoldMs <= 0) return;
    this.#held = [];
    this.#holdTimer = setTimeout(() => {
      this.#options.logger.warn('no hand-over marker; releasing held requests', {
        service: this.name,
        epoch,
      });
      this.#releaseHold();
    }, this.#options.handOverHoldMs);
  }

  /**
   * The old owner's marker: everything it buffered has been forwarded, so held arrivals may run; after
   * its `mirrors` mirrors, if it served through its freeze.
   */
  handOverComplete(epoch: number, mirrors = 0): void {
    if (epoch !== this.#epoch || this.#role !== 'owner') return;
    if (this.#inbox === undefined) {
      if (this.#held !== undefined) this.#releaseHold();
      return;
    }
    this.#inbox.expect(mirrors);
    this.#applyMirrors();
  }

  /**
   * The old owner's mirror `seq` for the import at `epoch`: the replies it completes go out, the old
   * owner hears so at once, and the writes are applied in order.
   */
  acceptMirror(epoch: number, seq: number, content: MirrorContent, from: UdpAddress): void {
    const inbox = this.#inbox;
    if (inbox?.epoch !== epoch) return;
    for (const completed of inbox.add(seq, content)) this.#options.send(completed.reply, completed.replyTo);
    const receipt = { service: this.name, epoch, through: inbox.received };
    this.#options.send(encodeMessage({ mirrorAck: receipt }), from);
    this.#applyMirrors();
  }

  /** The new owner holds every mirror below `through` and has sent their replies. */
  acceptMirrorAck(epoch: number, through: number): void {
    if (this.#mirror?.epoch === epoch) this.#mirror.received(through);
  }

  /**
   * Undoes an activation whose cutover never happened (the agent aborted after activate), or stands
   * down an owner another node superseded: back to standby at `epoch`, state dropped; a request that
   * reached it anyway is answered ERR_FNHOST_NOT_OWNER so its client retries at the owner.
   */
  async deactivate(epoch: number): Promise<number> {
    this.#transition(['owner'], 'standby');
    this.#inbox = undefined;
    await this.#whenIdle();
    const items = this.#takeAllQueued();
    for (const item of items) {
      this.#replyError(
        item.request,
        item.replyTo,
        'ERR_FNHOST_NOT_OWNER',
        `${this.name} activation was aborted`,
      );
    }
    this.#epoch = epoch;
    this.store.clear();
    return items.length;
  }

  dropState(): void {
    this.#requireRole(['forwarding', 'importing', 'standby'], 'dropState');
    this.store.clear();
    this.#inbox = undefined;
    if (this.#role === 'importing') this.#transition(['importing'], 'standby');
  }

  /**
   * Arrivals at this node, which holds no state for the service, go to `owner`: the old owner of an
   * import dropped here, which a CLAIM of that import could still have won at the data plane an
   * instant after the drop, steering the service's requests here instead of to the owner.
   */
  forwardArrivalsTo(owner: UdpAddress): void {
    if (this.#role === 'standby' || this.#role === 'importing') this.#forwardTo = owner;
  }

  /** Ends the service: held requests and replies are released to nobody; timers stop. */
  close(): void {
    clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    this.#mirror?.close();
  }

  #transition(from: readonly FunctionRole[], to: FunctionRole): void {
    this.#requireRole(from, `${this.#role} -> ${to}`);
    if (this.#role === 'frozen') {
      // A notice is only ever awaited, and writes only mirrored, in the freeze they were given with.
      this.#noticeExpected = undefined;
      this.#isServingFrozen = false;
      this.#isMirroring = false;
      this.#lastFrozenMs = performance.now() - this.#frozenAtMs;
    }
    if (to === 'frozen') this.#frozenAtMs = performance.now();
    this.#options.logger.info(`${this.#role} -> ${to}`, { service: this.name, epoch: this.#epoch });
    this.#role = to;
  }

  #requireRole(allowed: readonly FunctionRole[], what: string): void {
    if (allowed.includes(this.#role)) return;
    throw new EdgeShiftError(
      'ERR_FNHOST_WRONG_ROLE',
      `${what} is not allowed for ${this.name} in role ${this.#role} (allowed in: ${allowed.join(', ')})`,
      { context: { service: this.name, role: this.#role } },
    );
  }

  #requireNewerEpoch(epoch: number, what: string): void {
    if (Number.isInteger(epoch) && epoch > this.#epoch) return;
    throw new EdgeShiftError(
      'ERR_FNHOST_STALE_EPOCH',
      `${what} for ${this.name} at epoch ${epoch}, but this node already holds epoch ${this.#epoch}`,
      { context: { service: this.name, epoch, currentEpoch: this.#epoch } },
    );
  }

  #accept(request: FunctionRequest, replyTo: UdpAddress): void {
    const original = this.#dedupe.find(request.key, request.id);
    if (original !== undefined) {
      this.#duplicates += 1;
      // Its reply goes out from the new owner once that one has its writes.
      if (this.#mirror?.isHeld(request.id) === true) return;
      this.#options.send(original, replyTo);
      return;
    }
    // Queued or running: its one reply will go out when it finishes.
    if (this.#pendingIds.has(request.id)) {
      this.#duplicates += 1;
      return;
    }
    if (this.#queuedCount >= this.#options.maxBufferedRequests) {
      this.#rejected += 1;
      this.#replyError(
        request,
        replyTo,
        'ERR_FNHOST_BUFFER_FULL',
        `${this.name} has ${this.#queuedCount} requests buffered (maxBufferedRequests)`,
      );
      return;
    }
    const item: QueuedRequest = { request, replyTo, sequence: this.#nextSequence++ };
    this.#pendingIds.add(request.id);
    this.#queuedCount += 1;
    // Forwarded requests (replyTo set) are older than any direct arrival, so only direct ones are held;
    // unless the old owner mirrors writes, which a forwarded request may overtake.
    if (this.#held !== undefined && (request.replyTo === undefined || this.#inbox !== undefined)) {
      this.#held.push(item);
      return;
    }
    this.#enqueue(item);
  }

  /** Applies the old owner's mirrors that are next in order; held arrivals run once all are in. */
  #applyMirrors(): void {
    const inbox = this.#inbox;
    if (inbox === undefined || this.#role !== 'owner') return;
    for (const delta of inbox.takeReady()) {
      try {
        this.store.importDelta(delta);
      } catch (err) {
        this.#options.logger.error('mirror not applied', { service: this.name, epoch: this.#epoch, err });
      }
    }
    if (inbox.isComplete && this.#held !== undefined) this.#releaseHold();
  }

  #enqueue(item: QueuedRequest): void {
    const key = item.request.key;
    const queue = this.#queues.get(key);
    if (queue === undefined) this.#queues.set(key, [item]);
    else queue.push(item);
    this.#pump(key);
  }

  #releaseHold(): void {
    clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    // Forwarded requests first: the old owner took them in before any arrival held here.
    const held = (this.#held ?? []).sort(
      (a, b) => Number(a.request.replyTo === undefined) - Number(b.request.replyTo === undefined),
    );
    this.#held = undefined;
    for (const item of held) this.#enqueue(item);
  }

  /** Starts requests: the owner does, and so does a source that serves through its freeze. */
  #isStarting(): boolean {
    return this.#role === 'owner' || (this.#role === 'frozen' && this.#isServingFrozen);
  }

  #pump(key: string): void {
    if (!this.#isStarting() || this.#activeKeys.has(key)) return;
    const queue = this.#queues.get(key);
    const item = queue?.shift();
    if (queue === undefined || item === undefined) return;
    if (queue.length === 0) this.#queues.delete(key);
    this.#queuedCount -= 1;
    this.#activeKeys.add(key);
    void this.#process(item).finally(() => {
      this.#activeKeys.delete(key);
      this.#pendingIds.delete(item.request.id);
      if (this.#activeKeys.size === 0) this.#notifyIdle();
      this.#pump(key);
    });
  }

  async #process(item: QueuedRequest): Promise<void> {
    const { request, replyTo } = item;
    let callCount = 0;
    const ctx: FunctionContext = {
      state: this.store.namespace('app'),
      logger: this.#options.logger,
      nodeName: this.#options.nodeName,
      call: (service, body, key) => {
        callCount += 1;
        return this.#options.call(service, `${request.id}>${service}#${callCount}`, key, body);
      },
    };
    let reply: FunctionReply;
    try {
      const body: unknown = await this.#options.definition.handler(
        { id: request.id, key: request.key, body: request.body },
        ctx,
      );
      reply = { id: request.id, ok: true, body, node: this.#options.nodeName, epoch: this.#epoch };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.#options.logger.warn('function failed', { service: this.name, id: request.id, err });
      reply = {
        id: request.id,
        ok: false,
        error: { code: errorCodeOf(err), message },
        node: this.#options.nodeName,
        epoch: this.#epoch,
      };
    }
    const bytes = encodeMessage(reply);
    // Recorded before the id leaves the pending set, so no duplicate slips in between.
    this.#dedupe.record(request.key, request.id, bytes);
    this.#processed += 1;
    if (this.#isMirroring && this.#mirror !== undefined) {
      const { delta } = this.store.takeDelta();
      this.#mirror.mirror({ id: request.id, delta, reply: bytes, replyTo });
      return;
    }
    this.#options.send(bytes, replyTo);
  }

  #whenIdle(): Promise<void> {
    if (this.#activeKeys.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #notifyIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #takeAllQueued(): QueuedRequest[] {
    const items = [...this.#queues.values()].flat().concat(this.#held ?? []);
    this.#queues.clear();
    this.#held = undefined;
    clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    for (const item of items) this.#pendingIds.delete(item.request.id);
    this.#queuedCount = 0;
    return items.sort((a, b) => a.sequence - b.sequence);
  }

  #forward(request: FunctionRequest, replyTo: UdpAddress, target: UdpAddress): void {
    const forwarded = forwardedRequest(request, replyTo);
    if (forwarded === undefined) {
      this.#replyError(
        request,
        replyTo,
        'ERR_FNHOST_NOT_OWNER',
        `${this.name}: forwarding loop, dropped after ${MAX_FORWARD_HOPS} hops`,
      );
      return;
    }
    this.#forwarded += 1;
    this.#options.send(encodeMessage(forwarded), target);
  }

  #replyError(request: FunctionRequest, replyTo: UdpAddress, code: ErrorCode, message: string): void {
    const reply: FunctionReply = {
      id: request.id,
      ok: false,
      error: { code, message },
      node: this.#options.nodeName,
      epoch: this.#epoch,
    };
    this.#options.send(encodeMessage(reply), replyTo);
  }
}
