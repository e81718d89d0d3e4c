// Every control operation of function-host-api.ts (FunctionHostRequest) over the request server and
// its state stores: what the peer agent calls, through IPC (main.ts) or in process (FunctionHostControl).
// Requests from the wire are validated once here (parseControlRequest). Invariants: one migration id per
// service at a time; operations on one service run one at a time; misuse is refused with a coded error
// and changes nothing.
import { EdgeShiftError, hasErrorCode } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type {
  Activated,
  ControlChannelInfo,
  DirectCutover,
  FunctionHostControl,
  FunctionHostRequest,
  FunctionHostResponses,
  HandOverOnNotice,
  UdpAddress,
} from './function-host-api.ts';
import {
  HAND_OFF_KEY,
  HandOffAssembly,
  MAX_HAND_OFF_PARTS,
  openFence,
  openHandOff,
  openMirror,
  sealFence,
  sealHandOff,
  sealMirror,
  splitHandOff,
  type FenceWord,
  type HandOffContent,
  type HandOffPart,
  type HandOffRef,
  type MirrorContent,
  type MirrorPart,
  type SealedHandOff,
} from './hand-off-seal.ts';
import type { DirectCutoverClaims } from './direct-cutover.ts';
import type { RequestServer, RouteEntry } from './request-server.ts';
import { encodeMessage, MAX_DATAGRAM_BYTES } from './request-wire.ts';
import type { ServiceRuntime } from './service-runtime.ts';
import { applyBetweenIo, type SnapshotExport } from './state-store.ts';

export interface ControlHandlersOptions {
  /** Called after setRoute changed the table (main.ts persists it with UpdateConfiguration). */
  readonly onRoutesChanged?: (routes: Readonly<Record<string, RouteEntry>>) => void | Promise<void>;
  /** Largest snapshot chunk a caller may ask for. */
  readonly maxChunkBytes: number;
  /** The control channel this host serves, if any (openControlChannel answers it). */
  readonly controlChannel?: () => ControlChannelInfo | undefined;
  /** Sends the CLAIMs of direct cutovers (beginImport.directCutover); without it none is made. */
  readonly directCutoverClaims?: DirectCutoverClaims;
  readonly logger: Logger;
}

type Op = FunctionHostRequest['op'];
type RequestOf<K extends Op> = Extract<FunctionHostRequest, { op: K }>;

interface Migration {
  readonly migrationId: string;
  readonly direction: 'export' | 'import';
  snapshot?: SnapshotExport;
  /** Import: the index importChunk expects next. */
  nextChunkIndex: number;
  importEpoch?: number;
  /** Set by activate: the epoch held before, restored if the activation is undone by dropState. */
  epochBeforeActivation?: number;
  /** Import: the key the source's direct hand-off is sealed under (beginImport.handOffKey). */
  handOffKey?: string | undefined;
  /** Import: the parts of the hand-off received so far. */
  handOffParts?: HandOffAssembly | undefined;
  /** Import: the parts of the old owner's mirrors received so far, by mirror number. */
  mirrorParts?: Map<number, HandOffAssembly>;
  /** Import: the new owner claims the service itself once the hand-off activated it (beginImport). */
  directCutover?: DirectCutover | undefined;
  /**
   * Import: the epoch this node holds as the new owner by its own word, given on a direct cutover (the
   * data plane accepted its CLAIM) or in a fence answer (the old owner was told it activated): the
   * state is kept from then on.
   */
  keptEpoch?: number | undefined;
  /** Import: the old owner's fence came before the activation, which is refused from then on. */
  isFenced?: boolean;
  /** Import: withdraws the direct cutover's CLAIM while it is still resent, when the import ends. */
  claimWithdrawal?: AbortController;
  /** Import: set once activated; activate again at the same epoch answers it (the hand-off may come first). */
  activated?: Activated | undefined;
  /** awaitActivation calls waiting for `activated`. */
  readonly activationWaiters: { resolve: (activated: Activated) => void; reject: (err: Error) => void }[];
}

/** Base64 characters of a sealed hand-off per datagram: what is left of one after its JSON fields. */
const HAND_OFF_PART_CHARS = MAX_DATAGRAM_BYTES - 1024;

/** How often a contest asks the new owner again (UDP may lose the question or the answer). */
const FENCE_RESEND_MS = 50;

function badRequest(message: string): EdgeShiftError {
  return new EdgeShiftError('ERR_FNHOST_BAD_REQUEST', message);
}

export class FunctionHostControlHandlers implements FunctionHostControl {
  readonly #server: RequestServer;
  readonly #options: ControlHandlersOptions;
  readonly #migrations = new Map<string, Migration>();
  readonly #serviceQueues = new Map<string, Promise<unknown>>();
  /** Fence questions this host asked as an old owner, by migration id, waiting for their answer. */
  readonly #contests = new Map<string, { key: string; settle: (word: 'activated' | 'fenced') => void }>();
  #isStopping = false;

  constructor(server: RequestServer, options: ControlHandlersOptions) {
    this.#server = server;
    this.#options = options;
  }

  /** FunctionHostControl in process: the same handlers the IPC topic serves, with a deadline. */
  call<K extends Op>(request: RequestOf<K>, timeoutMs: number): Promise<FunctionHostResponses[K]> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new EdgeShiftError('ERR_IPC_REQUEST_TIMEOUT', `${request.op} took over ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return Promise.race([this.handle(request), deadline]).finally(() => clearTimeout(timer));
  }

  /** From now on no move into this host begins: it is about to stop, and what it imported would be lost. */
  refuseImports(): void {
    this.#isStopping = true;
  }

  /** Runs one operation; operations on the same service are serialized. */
  handle<K extends Op>(request: RequestOf<K>): Promise<FunctionHostResponses[K]> {
    if (request.op === 'listFunctions')
      return Promise.resolve(this.#listFunctions() as FunctionHostResponses[K]);
    if (request.op === 'openControlChannel')
      return Promise.resolve(this.#openControlChannel() as FunctionHostResponses[K]);
    // A wait, not an operation: it must not hold up the service's queue (activate runs there).
    if (request.op === 'awaitActivation')
      return this.#awaitActivation(request as RequestOf<'awaitActivation'>) as Promise<
        FunctionHostResponses[K]
      >;
    const service = (request as { service: string }).service;
    const previous = this.#serviceQueues.get(service) ?? Promise.resolve();
    const result = previous.then(() => this.#dispatch(request)) as Promise<FunctionHostResponses[K]>;
    const settled = result.catch(() => undefined);
    this.#serviceQueues.set(service, settled);
    void settled.then(() => {
      if (this.#serviceQueues.get(service) === settled) this.#serviceQueues.delete(service);
    });
    return result;
  }

  async #dispatch(request: FunctionHostRequest): Promise<unknown> {
    // Let pending I/O (requests) run between operations, even when a caller in this process sends
    // them back to back: a snapshot must never starve the request path.
    await new Promise((resolve) => setImmediate(resolve));
    switch (request.op) {
      case 'listFunctions':
        return this.#listFunctions();
      case 'openControlChannel':
        return this.#openControlChannel();
      case 'beginExport':
        return this.#beginExport(request);
      case 'readExportChunk':
        return this.#readExportChunk(request);
      case 'nextDelta':
        return this.#nextDelta(request);
      case 'freeze':
        return this.#freeze(request);
      case 'beginImport':
        return this.#beginImport(request);
      case 'importChunk':
        return this.#importChunk(request);
      case 'importDelta':
        return this.#importDelta(request);
      case 'activate':
        return this.#activate(request);
      case 'awaitActivation':
        return this.#awaitActivation(request);
      case 'contestImport':
        return this.#contestImport(request);
      case 'handOver':
        return this.#handOver(request);
      case 'resume':
        return this.#resume(request);
      case 'dropState':
        return this.#dropState(request);
      case 'standDown':
        return this.#standDown(request);
      case 'setRoute':
        return this.#setRoute(request);
    }
  }

  #openControlChannel(): ControlChannelInfo {
    const info = this.#options.controlChannel?.();
    if (info === undefined) throw badRequest('this function host serves no control channel');
    return info;
  }

  #listFunctions(): FunctionHostResponses['listFunctions'] {
    return this.#server.runtimes().map((runtime) => runtime.summary());
  }

  /** The address the data plane knows this node by: where the service listens. */
  #nodeAddress(service: string): string {
    return this.#server.serviceAddress(service).address;
  }

  /** Ends a service's migration here; a wait for its activation and a CLAIM still resent end with it. */
  #forget(service: string): void {
    const migration = this.#migrations.get(service);
    this.#migrations.delete(service);
    migration?.claimWithdrawal?.abort();
    for (const waiter of migration?.activationWaiters.splice(0) ?? []) {
      waiter.reject(
        new EdgeShiftError(
          'ERR_FNHOST_WRONG_MIGRATION',
          `migration ${migration?.migrationId} of ${service} ended before its activation`,
        ),
      );
    }
  }

  /**
   * The migration this request belongs to; starts one when none is in progress and `start` is given.
   * A new migration replaces a finished or abandoned one (the agent does not always close them: an
   * abort before freeze, a stateless hand-over), but never one whose service is frozen.
   */
  #migrationOf(service: string, migrationId: string, start?: 'export' | 'import'): Migration {
    let current = this.#migrations.get(service);
    if (current !== undefined && current.migrationId !== migrationId && start !== undefined) {
      const runtime = this.#server.runtime(service);
      if (runtime.role !== 'frozen') {
        // An activated import is a finished move nothing else closes here: only an abandoned one is news.
        const isFinished = current.direction === 'import' && current.activated !== undefined;
        const level = isFinished ? 'debug' : 'warn';
        this.#options.logger[level]('migration replaced', {
          service,
          previous: current.migrationId,
          migrationId,
        });
        if (runtime.role === 'owner' && current.direction === 'export') runtime.store.endTracking();
        this.#forget(service);
        current = undefined;
      }
    }
    if (current !== undefined && current.migrationId !== migrationId) {
      throw new EdgeShiftError(
        'ERR_FNHOST_WRONG_MIGRATION',
        `${service} is in migration ${current.migrationId}, not ${migrationId}`,
        { context: { service, migrationId, currentMigrationId: current.migrationId } },
      );
    }
    if (current !== undefined && (start === undefined || current.direction === start)) return current;
    if (current !== undefined) {
      throw new EdgeShiftError(
        'ERR_FNHOST_WRONG_ROLE',
        `${service} is ${current.direction}ing in migration ${migrationId}; it cannot also ${start}`,
        { context: { service, migrationId } },
      );
    }
    const migration: Migration = {
      migrationId,
      direction: start ?? 'export',
      nextChunkIndex: 0,
      activationWaiters: [],
    };
    this.#migrations.set(service, migration);
    return migration;
  }

  #requireDirection(migration: Migration, direction: 'export' | 'import', op: Op): void {
    if (migration.direction === direction) return;
    throw new EdgeShiftError(
      'ERR_FNHOST_WRONG_ROLE',
      `${op} is for an ${direction}, but migration ${migration.migrationId} is an ${migration.direction}`,
    );
  }

  #beginExport(request: RequestOf<'beginExport'>): FunctionHostResponses['beginExport'] {
    const runtime = this.#server.runtime(request.service);
    if (runtime.role !== 'owner') {
      throw new EdgeShiftError(
        'ERR_FNHOST_WRONG_ROLE',
        `beginExport needs the owner; ${request.service} is ${runtime.role}`,
      );
    }
    if (!Number.isInteger(request.chunkBytes) || request.chunkBytes > this.#options.maxChunkBytes) {
      throw badRequest(
        `chunkBytes must be an integer up to ${this.#options.maxChunkBytes}, got ${request.chunkBytes}`,
      );
    }
    const migration = this.#migrationOf(request.service, request.migrationId, 'export');
    migration.snapshot = runtime.store.beginSnapshot(request.chunkBytes);
    const { chunkCount, snapshotBytes, stateChecksum } = migration.snapshot;
    this.#options.logger.info('export started', { ...request, chunkCount, snapshotBytes });
    return { chunkCount, snapshotBytes, stateChecksum };
  }

  #readExportChunk(request: RequestOf<'readExportChunk'>): FunctionHostResponses['readExportChunk'] {
    this.#server.runtime(request.service);
    const migration = this.#migrationOf(request.service, request.migrationId);
    this.#requireDirection(migration, 'export', request.op);
    const snapshot = migration.snapshot;
    if (snapshot === undefined) {
      throw new EdgeShiftError('ERR_FNHOST_NO_EXPORT', `no snapshot of ${request.service} was begun`);
    }
    const data = snapshot.readChunk(request.index);
    return { index: request.index, data, isLast: request.index === snapshot.chunkCount - 1 };
  }

  #nextDelta(request: RequestOf<'nextDelta'>): FunctionHostResponses['nextDelta'] {
    const runtime = this.#server.runtime(request.service);
    const migration = this.#migrationOf(request.service, request.migrationId);
    this.#requireDirection(migration, 'export', request.op);
    migration.snapshot = undefined;
    return runtime.store.takeDelta(request.maxBytes);
  }

  async #freeze(request: RequestOf<'freeze'>): Promise<FunctionHostResponses['freeze']> {
    const runtime = this.#server.runtime(request.service);
    const migration = this.#migrationOf(request.service, request.migrationId, 'export');
    this.#requireDirection(migration, 'export', request.op);
    const notice = request.handOverOnNotice && {
      ...request.handOverOnNotice,
      newOwner: checkAddress(request.handOverOnNotice.newOwner, 'handOverOnNotice.newOwner'),
    };
    const key = request.handOffKey;
    const isMirrored = notice !== undefined && key !== undefined && runtime.store.isTracking;
    let bufferedRequests = 0;
    if (isMirrored) {
      // With the direct hand-off the source serves on, and mirrors each write to the new owner.
      const ref = { service: request.service, migrationId: request.migrationId, epoch: notice.epoch };
      runtime.serveMirrored(notice, (seq, content) => mirrorDatagrams(key, ref, seq, content));
    } else {
      bufferedRequests = await runtime.freeze(notice);
    }
    // Taken in the same call (the same turn, when serving on): the last delta ends where mirrors begin.
    if (!runtime.store.isTracking) return { bufferedRequests, stateChecksum: runtime.store.checksum() };
    migration.snapshot = undefined;
    const { delta } = runtime.store.takeDelta();
    const stateChecksum = runtime.store.checksum();
    if (notice !== undefined && key !== undefined) {
      this.#sendHandOff(request, key, notice, { stateChecksum, delta });
    }
    return { bufferedRequests, stateChecksum, finalDelta: delta };
  }

  /**
   * The direct hand-off: the last delta, sealed, to the new owner's service port, in as many datagrams
   * as it takes up to MAX_HAND_OFF_PARTS. Best effort: the same delta also travels through both
   * agents (TakeOver).
   */
  #sendHandOff(
    ref: RequestOf<'freeze'>,
    key: string,
    notice: HandOverOnNotice,
    content: { stateChecksum: string; delta: Uint8Array },
  ): void {
    const { service, migrationId } = ref;
    const sealed = sealHandOff(key, { service, migrationId, epoch: notice.epoch }, content);
    const datagrams = splitHandOff(sealed, HAND_OFF_PART_CHARS).map((part) =>
      encodeMessage({ handOff: part }),
    );
    const fits = datagrams.every((bytes) => bytes.byteLength <= MAX_DATAGRAM_BYTES);
    if (datagrams.length > MAX_HAND_OFF_PARTS || !fits) {
      this.#options.logger.debug('last delta too large for a direct hand-off', {
        service,
        parts: datagrams.length,
      });
      return;
    }
    for (const bytes of datagrams) this.#server.sendFrom(service, bytes, notice.newOwner);
  }

  #beginImport(request: RequestOf<'beginImport'>): FunctionHostResponses['beginImport'] {
    if (this.#isStopping) {
      throw new EdgeShiftError('ERR_FNHOST_CLOSED', 'the function host is stopping: no move into it begins', {
        context: { service: request.service, migrationId: request.migrationId },
      });
    }
    const runtime = this.#server.runtime(request.service);
    this.#requireNewerEpoch(runtime, request.epoch, request.op);
    const migration = this.#migrationOf(request.service, request.migrationId, 'import');
    // With a hand-off key the source may serve through its freeze: its mirrors are kept from now on.
    runtime.beginImport(request.epoch, request.handOffKey !== undefined);
    migration.nextChunkIndex = 0;
    migration.importEpoch = request.epoch;
    migration.handOffKey = request.handOffKey;
    migration.handOffParts = undefined;
    migration.mirrorParts = new Map();
    migration.directCutover = request.handOffKey === undefined ? undefined : request.directCutover;
    if (migration.directCutover !== undefined) {
      this.#options.directCutoverClaims?.prepare(migration.directCutover, this.#nodeAddress(request.service));
    }
    migration.keptEpoch = undefined;
    migration.isFenced = false;
    migration.activated = undefined;
    return {};
  }

  async #importChunk(request: RequestOf<'importChunk'>): Promise<FunctionHostResponses['importChunk']> {
    const runtime = this.#importingRuntime(request);
    const migration = this.#migrationOf(request.service, request.migrationId);
    // The previous chunk again is a retry: its puts are idempotent, so it is applied again.
    if (request.index !== migration.nextChunkIndex && request.index !== migration.nextChunkIndex - 1) {
      throw new EdgeShiftError(
        'ERR_FNHOST_CHUNK_ORDER',
        `importChunk ${request.index} for ${request.service}, expected ${migration.nextChunkIndex}`,
        { context: { service: request.service, index: request.index, expected: migration.nextChunkIndex } },
      );
    }
    // In slices: this node may serve other services (and their requests) while the snapshot arrives.
    await applyBetweenIo(runtime.store.openChunkImport(request.data));
    migration.nextChunkIndex = request.index + 1;
    return {};
  }

  async #importDelta(request: RequestOf<'importDelta'>): Promise<FunctionHostResponses['importDelta']> {
    const { store } = this.#importingRuntime(request);
    await applyBetweenIo(store.openDeltaImport(request.delta));
    // A pre-copy delta comes before the freeze: what is left to hash now is not hashed inside it.
    await store.hashBetweenIo();
    return {};
  }

  #activate(request: RequestOf<'activate'>): FunctionHostResponses['activate'] {
    const migration = this.#migrationOf(request.service, request.migrationId);
    // The direct hand-off may have come first: activate at the same epoch then answers the same.
    if (migration.activated?.epoch === request.epoch) return migration.activated;
    if (migration.isFenced === true) {
      throw new EdgeShiftError(
        'ERR_FNHOST_FENCED',
        `${request.service}: the old owner fenced migration ${request.migrationId} before its activation`,
        { context: { service: request.service, migrationId: request.migrationId } },
      );
    }
    const runtime = this.#importingRuntime(request);
    if (migration.importEpoch !== undefined && request.epoch < migration.importEpoch) {
      throw new EdgeShiftError(
        'ERR_FNHOST_STALE_EPOCH',
        `activate at epoch ${request.epoch}, but the import began at epoch ${migration.importEpoch}`,
      );
    }
    if (request.delta !== undefined) runtime.store.importDelta(request.delta);
    const stateChecksum = runtime.store.checksum();
    if (request.expectedStateChecksum !== undefined && stateChecksum !== request.expectedStateChecksum) {
      throw new EdgeShiftError(
        'ERR_MIGRATION_CHECKSUM_MISMATCH',
        `${request.service}: imported state ${stateChecksum}, the source froze ${request.expectedStateChecksum}`,
        { context: { service: request.service, migrationId: request.migrationId } },
      );
    }
    migration.epochBeforeActivation = runtime.epoch;
    runtime.activate(request.epoch);
    const activated = { stateChecksum, epoch: request.epoch };
    migration.activated = activated;
    for (const waiter of migration.activationWaiters.splice(0)) waiter.resolve(activated);
    return activated;
  }

  async #awaitActivation(
    request: RequestOf<'awaitActivation'>,
  ): Promise<FunctionHostResponses['awaitActivation']> {
    this.#server.runtime(request.service);
    const migration = this.#migrations.get(request.service);
    if (migration?.migrationId !== request.migrationId || migration.direction !== 'import') {
      const message = `${request.service} is not importing migration ${request.migrationId}`;
      throw new EdgeShiftError('ERR_FNHOST_WRONG_MIGRATION', message);
    }
    if (migration.activated !== undefined) return { activated: migration.activated };
    let waiter: Migration['activationWaiters'][number] | undefined;
    let timer: NodeJS.Timeout | undefined;
    const activated = await new Promise<Activated | undefined>((resolve, reject) => {
      waiter = { resolve, reject };
      migration.activationWaiters.push(waiter);
      timer = setTimeout(() => resolve(undefined), request.waitMs);
    }).finally(() => {
      clearTimeout(timer);
      const index = migration.activationWaiters.indexOf(waiter as Migration['activationWaiters'][number]);
      if (index >= 0) migration.activationWaiters.splice(index, 1);
    });
    return activated === undefined ? {} : { activated };
  }

  /** The import a sealed message names, with the key it is sealed under; undefined for any other. */
  #sealedImport(ref: HandOffRef): { migration: Migration; key: string } | undefined {
    const migration = this.#migrations.get(ref.service);
    const isForThisImport =
      migration?.migrationId === ref.migrationId &&
      migration.direction === 'import' &&
      migration.importEpoch === ref.epoch;
    const key = isForThisImport ? migration.handOffKey : undefined;
    return key === undefined || migration === undefined ? undefined : { migration, key };
  }

  /**
   * A part of a sealed hand-off reached the service's port (request-server.ts): once every part of it
   * is in, activates the import it is for.
   */
  acceptHandOff(part: HandOffPart): void {
    const { service, migrationId, epoch } = part;
    const { migration, key } = this.#sealedImport(part) ?? {};
    if (migration === undefined || key === undefined) {
      this.#options.logger.debug('hand-off for no import here ignored', { service, migrationId, epoch });
      return;
    }
    let content: HandOffContent;
    try {
      migration.handOffParts ??= new HandOffAssembly(part);
      const handOff = migration.handOffParts.add(part);
      if (handOff === undefined) return;
      migration.handOffParts = undefined;
      content = openHandOff(key, handOff);
    } catch (err) {
      this.#options.logger.warn('hand-off refused', { service, migrationId, err });
      return;
    }
    const { delta, stateChecksum } = content;
    this.handle({
      op: 'activate',
      service,
      migrationId,
      epoch,
      delta,
      expectedStateChecksum: stateChecksum,
    }).then(
      () => this.#cutOverDirectly(service, migration),
      (err: unknown) =>
        this.#options.logger.warn('direct hand-off not activated; the agents relay the same delta', {
          service,
          migrationId,
          err,
        }),
    );
  }

  /**
   * A part of the old owner's mirror reached the service's port (request-server.ts): once every part of
   * it is in, the service's runtime takes it (state-mirror.ts).
   */
  acceptMirror(part: MirrorPart, from: UdpAddress): void {
    const { service, migrationId, epoch, seq } = part;
    const { migration, key } = this.#sealedImport(part) ?? {};
    const assemblies = migration?.mirrorParts;
    if (key === undefined || assemblies === undefined) {
      this.#options.logger.debug('mirror for no import here ignored', { service, migrationId, epoch });
      return;
    }
    let content: MirrorContent;
    try {
      const assembly = assemblies.get(seq) ?? new HandOffAssembly(part);
      const whole = assembly.add(part);
      if (whole === undefined) {
        assemblies.set(seq, assembly);
        return;
      }
      assemblies.delete(seq);
      content = openMirror(key, whole, seq);
    } catch (err) {
      this.#options.logger.warn('mirror refused', { service, migrationId, seq, err });
      return;
    }
    this.#server.runtime(service).acceptMirror(epoch, seq, content, from);
  }

  /**
   * Claims the service for this node and, once the data plane accepts, tells the old owner's function
   * host: its freeze ends without waiting for either agent. A refusal or silence changes nothing
   * here; the target's agent claims the same epoch and decides.
   */
  async #cutOverDirectly(service: string, migration: Migration): Promise<void> {
    const plan = migration.directCutover;
    const claims = this.#options.directCutoverClaims;
    const epoch = migration.activated?.epoch;
    if (plan === undefined || claims === undefined || epoch === undefined) return;
    const { migrationId } = migration;
    const startedMs = performance.now();
    migration.claimWithdrawal = new AbortController();
    const { signal } = migration.claimWithdrawal;
    try {
      const from = this.#nodeAddress(service);
      const answer = await claims.claim(plan, { migrationId, epoch, from, signal });
      if (answer !== 'accepted') {
        this.#options.logger.warn('direct cutover refused; the agent decides', {
          service,
          migrationId,
          answer,
        });
        return;
      }
      // Dropped while the CLAIM was out: the agent, which claims the same epoch, settles it.
      if (this.#migrations.get(service) !== migration) return;
      migration.keptEpoch = epoch;
      const notice = encodeMessage({ cutoverNotice: { service, epoch, token: plan.notice.token } });
      // Sent twice: a lost notice costs the old owner the agents' way round, a duplicate nothing.
      this.#server.sendFrom(service, notice, plan.notice.to);
      this.#server.sendFrom(service, notice, plan.notice.to);
      this.#options.logger.info('cut over directly', {
        service,
        migrationId,
        epoch,
        claimMs: Math.round((performance.now() - startedMs) * 100) / 100,
      });
    } catch (err) {
      // Withdrawn: the import was dropped or replaced, and whoever ended it knows.
      const level = hasErrorCode(err, 'ERR_MIGRATION_CLAIM_WITHDRAWN') ? 'debug' : 'warn';
      this.#options.logger[level]('direct cutover failed; the agent decides', { service, migrationId, err });
    }
  }

  /**
   * A fence question or answer reached a service port (request-server.ts). The new owner answers the
   * question at once, so the answer and the activation exclude each other: activated, or fenced and
   * never activated. The old owner passes an answer to its contest.
   */
  acceptFence(fence: SealedHandOff, from: UdpAddress): void {
    const contest = this.#contests.get(fence.migrationId);
    if (contest !== undefined) {
      const word = this.#openFence(contest.key, fence);
      if (word === 'activated' || word === 'fenced') contest.settle(word);
      return;
    }
    const { migration, key } = this.#sealedImport(fence) ?? {};
    if (migration === undefined || key === undefined || this.#openFence(key, fence) !== 'fence') return;
    let answer: FenceWord = 'fenced';
    if (migration.activated?.epoch === fence.epoch) {
      migration.keptEpoch = fence.epoch;
      answer = 'activated';
    } else {
      migration.isFenced = true;
    }
    this.#options.logger.warn('fence answered', {
      service: fence.service,
      migrationId: fence.migrationId,
      answer,
    });
    this.#server.sendFrom(fence.service, encodeMessage({ fence: sealFence(key, fence, answer) }), from);
  }

  #openFence(key: string, fence: SealedHandOff): FenceWord | undefined {
    try {
      return openFence(key, fence);
    } catch (err) {
      this.#options.logger.warn('fence refused', {
        service: fence.service,
        migrationId: fence.migrationId,
        err,
      });
      return undefined;
    }
  }

  /** Asks the new owner's function host, every FENCE_RESEND_MS until it answers or `waitMs` is up. */
  #contestImport(request: RequestOf<'contestImport'>): Promise<FunctionHostResponses['contestImport']> {
    const { service, migrationId, epoch, handOffKey, waitMs } = request;
    const newOwner = checkAddress(request.newOwner, 'newOwner');
    this.#server.runtime(service);
    const question = encodeMessage({
      fence: sealFence(handOffKey, { service, migrationId, epoch }, 'fence'),
    });
    return new Promise((resolve) => {
      const ask = (): void => this.#server.sendFrom(service, question, newOwner);
      const resend = setInterval(ask, FENCE_RESEND_MS);
      const deadline = setTimeout(() => settle('unknown'), waitMs);
      const settle = (outcome: FunctionHostResponses['contestImport']['outcome']): void => {
        clearInterval(resend);
        clearTimeout(deadline);
        // A later contest of the same move may have taken the entry: leave it to that one.
        if (this.#contests.get(migrationId)?.settle === settle) this.#contests.delete(migrationId);
        resolve({ outcome });
      };
      this.#contests.set(migrationId, { key: handOffKey, settle });
      ask();
    });
  }

  async #handOver(request: RequestOf<'handOver'>): Promise<FunctionHostResponses['handOver']> {
    const runtime = this.#server.runtime(request.service);
    const newOwner = checkAddress(request.newOwner, 'newOwner');
    const migration = this.#migrationOf(request.service, request.migrationId, 'export');
    this.#requireDirection(migration, 'export', request.op);
    const forwardedRequests = await runtime.handOver(request.epoch, newOwner);
    this.#options.logger.info('handed over', {
      service: request.service,
      epoch: request.epoch,
      forwardedRequests,
    });
    return { forwardedRequests, frozenMs: runtime.lastFrozenMs };
  }

  #resume(request: RequestOf<'resume'>): FunctionHostResponses['resume'] {
    const runtime = this.#server.runtime(request.service);
    const migration = this.#migrationOf(request.service, request.migrationId, 'export');
    this.#requireDirection(migration, 'export', request.op);
    const processedBufferedRequests = runtime.resume(request.epoch);
    this.#forget(request.service);
    return { processedBufferedRequests };
  }

  async #dropState(request: RequestOf<'dropState'>): Promise<FunctionHostResponses['dropState']> {
    const runtime = this.#server.runtime(request.service);
    const current = this.#migrations.get(request.service);
    if (current !== undefined && current.migrationId !== request.migrationId && runtime.role === 'frozen') {
      this.#migrationOf(request.service, request.migrationId); // throws ERR_FNHOST_WRONG_MIGRATION
    }
    const isThisMigration = current?.migrationId === request.migrationId;
    if (isThisMigration && current.keptEpoch !== undefined) {
      throw new EdgeShiftError(
        'ERR_FNHOST_CUT_OVER',
        `${request.service}: this node holds epoch ${current.keptEpoch} as the new owner; its state stays`,
        { context: { service: request.service, migrationId: request.migrationId } },
      );
    }
    const activatedFrom = isThisMigration ? current.epochBeforeActivation : undefined;
    // An owner only drops state that this very migration activated (an abort between activate and cutover).
    if (runtime.role === 'owner' && activatedFrom !== undefined) await runtime.deactivate(activatedFrom);
    else runtime.dropState();
    const plan = isThisMigration ? current.directCutover : undefined;
    if (plan !== undefined) runtime.forwardArrivalsTo(plan.notice.to);
    this.#forget(request.service);
    return {};
  }

  async #standDown(request: RequestOf<'standDown'>): Promise<FunctionHostResponses['standDown']> {
    const runtime = this.#server.runtime(request.service);
    if (request.epoch < runtime.epoch) {
      throw new EdgeShiftError(
        'ERR_FNHOST_STALE_EPOCH',
        `standDown for ${request.service} at epoch ${request.epoch}, but this node holds epoch ${runtime.epoch}`,
      );
    }
    await runtime.deactivate(request.epoch);
    this.#forget(request.service);
    this.#options.logger.warn('stood down: another node owns the service', {
      service: request.service,
      epoch: request.epoch,
    });
    return {};
  }

  async #setRoute(request: RequestOf<'setRoute'>): Promise<FunctionHostResponses['setRoute']> {
    const owner = checkAddress(request.owner, 'owner');
    const isChange = await this.#server.setRoute(request.service, owner, request.epoch);
    if (isChange) await this.#options.onRoutesChanged?.(this.#server.routes());
    return {};
  }

  #importingRuntime(request: RequestOf<'importChunk' | 'importDelta' | 'activate'>): ServiceRuntime {
    const runtime = this.#server.runtime(request.service);
    const migration = this.#migrationOf(request.service, request.migrationId);
    this.#requireDirection(migration, 'import', request.op);
    if (runtime.role !== 'importing') {
      throw new EdgeShiftError(
        'ERR_FNHOST_WRONG_ROLE',
        `${request.op} needs role importing; ${request.service} is ${runtime.role}`,
      );
    }
    return runtime;
  }

  #requireNewerEpoch(runtime: ServiceRuntime, epoch: number, op: Op): void {
    if (epoch > runtime.epoch) return;
    throw new EdgeShiftError(
      'ERR_FNHOST_STALE_EPOCH',
      `${op} for ${runtime.name} at epoch ${epoch}, but this node already holds epoch ${runtime.epoch}`,
      { context: { service: runtime.name, epoch, currentEpoch: runtime.epoch } },
    );
  }
}

/** Mirror `seq`, sealed, in as many datagrams as it takes (the new owner reads MAX_MIRROR_PARTS). */
function mirrorDatagrams(key: string, ref: HandOffRef, seq: number, content: MirrorContent): Buffer[] {
  const parts = splitHandOff(sealMirror(key, ref, seq, content), HAND_OFF_PART_CHARS);
  return parts.map((part) => encodeMessage({ mirror: { ...part, seq } }));
}

function checkAddress(value: UdpAddress, field: string): UdpAddress {
  if (typeof value.address !== 'string' || value.address === '' || !Number.isInteger(value.port)) {
    throw badRequest(`${field} must be {address, port}`);
  }
  if (value.port < 1 || value.port > 65_535) throw badRequest(`${field}.port ${value.port} out of range`);
  return { address: value.address, port: value.port };
}

// ---- validation of requests from the wire ------------------------------------------------------

type FieldKind = 'string' | 'integer' | 'bytes' | 'address' | 'notice' | 'key' | 'directCutover';

const REQUEST_FIELDS: Record<Op, Record<string, FieldKind>> = {
  listFunctions: {},
  beginExport: { service: 'string', migrationId: 'string', chunkBytes: 'integer' },
  readExportChunk: { service: 'string', migrationId: 'string', index: 'integer' },
  nextDelta: { service: 'string', migrationId: 'string' },
  freeze: { service: 'string', migrationId: 'string' },
  beginImport: { service: 'string', migrationId: 'string', epoch: 'integer' },
  importChunk: { service: 'string', migrationId: 'string', index: 'integer', data: 'bytes' },
  importDelta: { service: 'string', migrationId: 'string', delta: 'bytes' },
  activate: { service: 'string', migrationId: 'string', epoch: 'integer' },
  awaitActivation: { service: 'string', migrationId: 'string', waitMs: 'integer' },
  contestImport: {
    service: 'string',
    migrationId: 'string',
    epoch: 'integer',
    newOwner: 'address',
    handOffKey: 'key',
    waitMs: 'integer',
  },
  handOver: { service: 'string', migrationId: 'string', epoch: 'integer', newOwner: 'address' },
  resume: { service: 'string', migrationId: 'string' },
  dropState: { service: 'string', migrationId: 'string' },
  standDown: { service: 'string', epoch: 'integer' },
  setRoute: { service: 'string', owner: 'address', epoch: 'integer' },
  openControlChannel: {},
};

const NOTICE_TOKEN = /^[0-9a-f]{32}$/;

const OPTIONAL_FIELDS: Partial<Record<Op, Record<string, FieldKind>>> = {
  nextDelta: { maxBytes: 'integer' },
  freeze: { handOverOnNotice: 'notice', handOffKey: 'key' },
  beginImport: { handOffKey: 'key', directCutover: 'directCutover' },
  activate: { delta: 'bytes', expectedStateChecksum: 'string' },
  resume: { epoch: 'integer' },
};

function isFieldValid(value: unknown, kind: FieldKind): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string' && value.length > 0;
    case 'integer':
      return Number.isSafeInteger(value) && (value as number) >= 0;
    case 'bytes':
      return value instanceof Uint8Array;
    case 'key':
      return typeof value === 'string' && HAND_OFF_KEY.test(value);
    case 'address': {
      const address = value as Partial<UdpAddress> | null;
      return (
        typeof address === 'object' &&
        address !== null &&
        typeof address.address === 'string' &&
        Number.isInteger(address.port)
      );
    }
    case 'directCutover':
      return isDirectCutover(value);
    case 'notice': {
      const notice = value as Partial<HandOverOnNotice> | null;
      return (
        typeof notice === 'object' &&
        notice !== null &&
        typeof notice.token === 'string' &&
        NOTICE_TOKEN.test(notice.token) &&
        isFieldValid(notice.epoch, 'integer') &&
        isFieldValid(notice.newOwner, 'address')
      );
    }
  }
}

function isDirectCutover(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const plan = value as Partial<DirectCutover>;
  const notice = plan.notice as Partial<DirectCutover['notice']> | undefined | null;
  return (
    isFieldValid(plan.dataPlane, 'address') &&
    isFieldValid(plan.nodeNumber, 'integer') &&
    isFieldValid(plan.serviceId, 'integer') &&
    isFieldValid(plan.claimTimeoutMs, 'integer') &&
    isFieldValid(plan.retransmitMs, 'integer') &&
    (plan.retransmitMs ?? 0) > 0 &&
    typeof notice === 'object' &&
    notice !== null &&
    typeof notice.token === 'string' &&
    NOTICE_TOKEN.test(notice.token) &&
    isFieldValid(notice.to, 'address')
  );
}

/** Checks a request body from IPC (byte fields already decoded to Uint8Array) against its op's fields. */
export function parseControlRequest(value: unknown): FunctionHostRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw badRequest('request must be an object');
  const record = value as Record<string, unknown>;
  const op = record.op;
  if (typeof op !== 'string' || !(op in REQUEST_FIELDS)) {
    throw badRequest(`unknown op ${JSON.stringify(op)}; known: ${Object.keys(REQUEST_FIELDS).join(', ')}`);
  }
  const fields = REQUEST_FIELDS[op as Op];
  for (const [field, kind] of Object.entries(fields)) {
    if (!isFieldValid(record[field], kind)) throw badRequest(`${op}: ${field} must be a valid ${kind}`);
  }
  for (const [field, kind] of Object.entries(OPTIONAL_FIELDS[op as Op] ?? {})) {
    if (record[field] !== undefined && !isFieldValid(record[field], kind)) {
      throw badRequest(`${op}: ${field} must be a valid ${kind} when given`);
    }
  }
  return record as unknown as FunctionHostRequest;
}
