// The target side of migrations: serves Prepare, TransferState, ApplyDelta, TakeOver, Commit and
// Abort for every move into this node, verifying each chunk and delta by SHA-256 and the imported
// state by the source's checksum, and driving the local function host through FunctionHostControl.
// With a direct hand-off it also follows the function host's own activation (awaitActivation) and
// cuts over on it; for an in-network move the function host has claimed already, and the agent's
// CLAIM of the same epoch confirms it.
// Invariant: before CUT_OVER any failure, abort or silence (idle timeout) drops the partial state;
// from CUT_OVER on the target keeps the service whatever happens (the move completes forward).

import { EdgeShiftError, hasErrorCode } from '../../components/common/errors.ts';
import type { Logger } from '../../components/common/logger.ts';
import type {
  DirectCutover,
  FunctionHostControl,
  FunctionHostRequest,
  FunctionHostResponses,
  UdpAddress,
} from '../../components/function-host/function-host-api.ts';
import { withTimeout, type Clock, type TimerHandle } from '../../components/common/clock.ts';
import type { StreamPriority } from '../cpu-priority.ts';
import type { CutoverNotifier } from '../cutover/cutover-notifier.ts';
import type { CutoverKind, CutoverMethod } from '../cutover/cutover-method.ts';
import type {
  AbortRequestMessage,
  AbortResponseMessage,
  DirectHandOffMessage,
  DeltaRequestMessage,
  DeltaResponseMessage,
  MigrationRefMessage,
  MigrationStatusMessage,
  PrepareRequestMessage,
  PrepareResponseMessage,
  StateChunkMessage,
  TakeOverRequestMessage,
  TakeOverResponseMessage,
  TransferSummaryMessage,
} from '../peer-proto.ts';
import type { PeerCaller } from '../peer-server.ts';
import { MigrationRun, MigrationState as S } from './migration-state.ts';
import { sha256, SnapshotDigest } from './transfer-digest.ts';

export interface TargetServiceInfo {
  readonly serviceId: number;
  readonly cutover: CutoverKind;
  /** Where this node's function host takes the service's requests. */
  readonly requestEndpoint: UdpAddress;
}

export interface TargetMigrationsOptions {
  readonly nodeId: string;
  readonly host: FunctionHostControl;
  readonly clock: Clock;
  readonly log: Logger;
  readonly lookupService: (service: string) => TargetServiceInfo | undefined;
  readonly cutoverMethod: (kind: CutoverKind) => CutoverMethod;
  /**
   * Where this node's CLAIMs go: given, the function host of an in-network move with a direct hand-off
   * claims the service itself as soon as the hand-off has activated it (direct-cutover.ts).
   */
  readonly directCutover?: {
    readonly dataPlane: UdpAddress;
    readonly nodeNumber: number;
    readonly retransmitMs: number;
  };
  /** Tells the source's function host that the cutover is done, when the source asked for it. */
  readonly notifier: CutoverNotifier;
  /** Silence from the source this long ends the migration (drop before cutover, keep after). */
  readonly idleTimeoutMs: number;
  readonly hostCallTimeoutMs: number;
  readonly cutoverTimeoutMs: number;
  /** Snapshot streams into this node run at its lower CPU weight. */
  readonly streamPriority: StreamPriority;
  /** Called when a move into this node commits (the placement cool-down starts). */
  readonly onCommitted?: (migrationId: string) => void;
}

interface TargetSession {
  readonly run: MigrationRun;
  readonly serviceId: number;
  readonly cutover: CutoverKind;
  readonly requestEndpoint: UdpAddress;
  readonly sourceNodeId: string;
  idleTimer?: TimerHandle;
  pendingCutover?: Promise<void>;
  /** Activation, cutover and notice, started by the first of TakeOver and the direct hand-off. */
  takeOver?: Promise<TakeOverResponseMessage>;
  chunksReceived: number;
  bytesReceived: number;
  lastDeltaRound: number;
  /** The abort in progress or done (abortLocally): every caller waits for the same outcome. */
  aborting?: Promise<boolean>;
  /** Restores the agent's CPU weight, lowered for a move its function host cuts over itself. */
  releaseWeight?: () => void;
}

/** How long one awaitActivation call waits before the agent asks again. */
const AWAIT_ACTIVATION_MS = 5_000;

function checksumMismatch(migrationId: string, what: string): EdgeShiftError {
  return new EdgeShiftError(
    'ERR_MIGRATION_CHECKSUM_MISMATCH',
    `migration ${migrationId}: ${what} does not match its checksum`,
    {
      context: { migrationId, what },
    },
  );
}

export class TargetMigrations {
  private readonly options: TargetMigrationsOptions;
  private readonly sessions = new Map<string, TargetSession>();
  /** Finished migrations (id → final state), so a late Abort or Commit gets a truthful answer. */
  private readonly finished = new Map<string, S>();

  constructor(options: TargetMigrationsOptions) {
    this.options = options;
  }

  /** True while any migration into this node is in progress for `service`. */
  isBusy(service: string): boolean {
    return [...this.sessions.values()].some((session) => session.run.identity.service === service);
  }

  status(): MigrationStatusMessage[] {
    return [...this.sessions.values()].map(({ run }) => ({
      migration_id: run.identity.migrationId,
      service: run.identity.service,
      role: 'target',
      state: run.state,
      epoch: run.identity.epoch,
      peer_node_id: run.identity.peerNodeId,
    }));
  }

  async prepare(request: PrepareRequestMessage, caller: PeerCaller): Promise<PrepareResponseMessage> {
    const info = this.options.lookupService(request.service);
    const context = { migrationId: request.migration_id, service: request.service };
    if (info === undefined) {
      throw new EdgeShiftError(
        'ERR_MIGRATION_UNKNOWN_SERVICE',
        `service '${request.service}' is not configured on ${this.options.nodeId}`,
        { context },
      );
    }
    if (this.isBusy(request.service) || this.sessions.has(request.migration_id)) {
      throw new EdgeShiftError(
        'ERR_MIGRATION_BUSY',
        `a migration of '${request.service}' into ${this.options.nodeId} is in progress`,
        { context },
      );
    }
    await this.checkLocalRole(request);
    const run = new MigrationRun(
      {
        migrationId: request.migration_id,
        service: request.service,
        role: 'target',
        epoch: request.epoch,
        peerNodeId: caller.nodeId,
      },
      this.options.log,
      () => this.options.clock.nowMs(),
    );
    const session: TargetSession = {
      run,
      serviceId: info.serviceId,
      cutover: info.cutover,
      requestEndpoint: info.requestEndpoint,
      sourceNodeId: caller.nodeId,
      chunksReceived: 0,
      bytesReceived: 0,
      lastDeltaRound: 0,
    };
    this.sessions.set(request.migration_id, session);
    const direct = request.direct_hand_off;
    const directCutover = direct === undefined ? {} : this.directCutoverOf(info, direct);
    // The function host cuts over itself: no request waits on this agent for the rest of the move.
    if (directCutover.directCutover !== undefined)
      session.releaseWeight = this.options.streamPriority.lower();
    try {
      await this.callHost({
        op: 'beginImport',
        service: request.service,
        migrationId: request.migration_id,
        epoch: request.epoch,
        ...(direct === undefined ? {} : { handOffKey: direct.key, ...directCutover }),
      });
    } catch (err) {
      await this.abortLocally(session, 'beginImport failed');
      throw err;
    }
    this.touch(session);
    if (direct !== undefined) void this.followDirectHandOff(session, direct);
    return { target_node_id: this.options.nodeId, request_endpoint: info.requestEndpoint };
  }

  /** The function host's own cutover, for in-network moves where this node knows the data plane. */
  private directCutoverOf(
    info: TargetServiceInfo,
    direct: DirectHandOffMessage,
  ): { directCutover?: DirectCutover } {
    const plan = this.options.directCutover;
    if (plan === undefined || info.cutover !== 'in-network') return {};
    return {
      directCutover: {
        ...plan,
        serviceId: info.serviceId,
        notice: { token: direct.cutover_notice_token, to: direct.source_request_endpoint },
        claimTimeoutMs: this.options.cutoverTimeoutMs,
      },
    };
  }

  /**
   * Waits (long polls) for the function host to activate on the source's direct hand-off, then cuts
   * over and notifies the source without waiting for TakeOver, which then finds the work done. Ends
   * quietly when TakeOver got there first or the move ended; TakeOver carries the same delta anyway.
   */
  private async followDirectHandOff(session: TargetSession, direct: DirectHandOffMessage): Promise<void> {
    const { migrationId, service } = session.run.identity;
    const isWaiting = (): boolean =>
      this.sessions.get(migrationId) === session && session.takeOver === undefined && !session.run.isFinal;
    try {
      while (isWaiting()) {
        const answer = await this.callHost(
          { op: 'awaitActivation', service, migrationId, waitMs: AWAIT_ACTIVATION_MS },
          AWAIT_ACTIVATION_MS + this.options.hostCallTimeoutMs,
        );
        if (answer.activated === undefined || !isWaiting()) continue;
        this.touch(session);
        session.run.transition([S.PREPARING, S.COPYING_DELTAS], S.ACTIVATING);
        session.takeOver = this.completeTakeOver(session, answer.activated, direct);
        await session.takeOver;
      }
    } catch (err) {
      this.options.log.warn('direct hand-off not followed; TakeOver carries the move', { migrationId, err });
    }
  }

  /** Fencing on the target side: it must not already serve the service, nor hold a newer epoch. */
  private async checkLocalRole(request: PrepareRequestMessage): Promise<void> {
    const functions = await this.callHost({ op: 'listFunctions' });
    const local = functions.find((entry) => entry.service === request.service);
    const context = { migrationId: request.migration_id, service: request.service };
    if (local === undefined) {
      throw new EdgeShiftError(
        'ERR_MIGRATION_UNKNOWN_SERVICE',
        `the function host of ${this.options.nodeId} does not run '${request.service}'`,
        { context },
      );
    }
    if (
      local.role === 'owner' &&
      (await this.standDownIfSuperseded(request.service, local.epoch, request.epoch))
    ) {
      return;
    }
    if (local.role === 'owner' || local.role === 'frozen' || local.role === 'importing') {
      throw new EdgeShiftError(
        'ERR_MIGRATION_BUSY',
        `${this.options.nodeId} is '${local.role}' for '${request.service}'`,
        { context },
      );
    }
    if (local.epoch >= request.epoch) {
      throw new EdgeShiftError(
        'ERR_MIGRATION_STALE_EPOCH',
        `move of '${request.service}' at epoch ${request.epoch}, but ${this.options.nodeId} has seen epoch ${local.epoch}`,
        { context },
      );
    }
  }

  /**
   * A function host that restarted comes back in its configured role: "owner" where another node has
   * owned the service since. Where the cutover method has an arbiter that names another owner at an
   * epoch at least as new (and below `belowEpoch`, the epoch a move into this node would bring), the
   * local one stands down: standby at that owner's epoch. True when it did.
   */
  async standDownIfSuperseded(
    service: string,
    localEpoch: number,
    belowEpoch = Number.POSITIVE_INFINITY,
  ): Promise<boolean> {
    const info = this.options.lookupService(service);
    if (info === undefined) return false;
    const owner = await this.options
      .cutoverMethod(info.cutover)
      .ownerInForce(info.serviceId, this.options.cutoverTimeoutMs)
      .catch(() => undefined);
    if (owner === undefined || owner.isThisNode || owner.epoch < localEpoch || owner.epoch >= belowEpoch) {
      return false;
    }
    this.options.log.warn('the local function host owns a service another node owns: it stands down', {
      service,
      localEpoch,
      ownerEpoch: owner.epoch,
    });
    await this.callHost({ op: 'standDown', service, epoch: owner.epoch });
    return true;
  }

  transferState(
    chunks: AsyncIterable<StateChunkMessage>,
    caller: PeerCaller,
  ): Promise<TransferSummaryMessage> {
    return this.options.streamPriority.during(() => this.receiveState(chunks, caller));
  }

  private async receiveState(
    chunks: AsyncIterable<StateChunkMessage>,
    caller: PeerCaller,
  ): Promise<TransferSummaryMessage> {
    let session: TargetSession | undefined;
    const total = new SnapshotDigest();
    try {
      for await (const chunk of chunks) {
        if (session === undefined) {
          session = this.sessionFor(chunk.migration_id, caller);
          session.run.transition([S.PREPARING], S.TRANSFERRING_SNAPSHOT);
        }
        this.touch(session);
        await this.importChunk(session, chunk, total);
        if (chunk.is_last) {
          if (!total.digest().equals(chunk.total_sha256))
            throw checksumMismatch(chunk.migration_id, 'the snapshot as a whole');
          session.run.transition([S.TRANSFERRING_SNAPSHOT], S.COPYING_DELTAS);
          return { chunks_received: session.chunksReceived, bytes_received: session.bytesReceived };
        }
      }
    } catch (err) {
      // A bad chunk ends the migration here; a broken stream waits for the source's Abort or the idle timeout.
      if (session !== undefined && hasErrorCode(err, 'ERR_MIGRATION_CHECKSUM_MISMATCH'))
        await this.abortLocally(session, 'bad chunk');
      throw err;
    }
    throw new EdgeShiftError('ERR_PEER_BAD_MESSAGE', 'the state stream ended before its last chunk', {
      context: { migrationId: session?.run.identity.migrationId ?? '' },
    });
  }

  async applyDelta(request: DeltaRequestMessage, caller: PeerCaller): Promise<DeltaResponseMessage> {
    const session = this.sessionFor(request.migration_id, caller);
    this.touch(session);
    if (session.run.state === S.PREPARING) session.run.transition([S.PREPARING], S.COPYING_DELTAS);
    if (!session.run.isIn(S.COPYING_DELTAS)) {
      session.run.transition([S.COPYING_DELTAS], S.COPYING_DELTAS); // throws: names the state it is in
    }
    if (request.round !== session.lastDeltaRound + 1) {
      throw new EdgeShiftError(
        'ERR_PEER_BAD_MESSAGE',
        `delta round ${request.round} after round ${session.lastDeltaRound}`,
        {
          context: { migrationId: request.migration_id },
        },
      );
    }
    if (!sha256(request.delta).equals(request.delta_sha256)) {
      await this.abortLocally(session, 'bad delta');
      throw checksumMismatch(request.migration_id, `delta round ${request.round}`);
    }
    await this.callHost({
      op: 'importDelta',
      service: session.run.identity.service,
      migrationId: request.migration_id,
      delta: request.delta,
    });
    session.lastDeltaRound = request.round;
    return { round: request.round };
  }

  /**
   * The freeze-window call: checks and imports the last delta, activates (checksum must equal the
   * source's) and cuts over, then notifies the source's function host straight away. Fails before
   * CUT_OVER drop the partial state, as any failure before it does.
   */
  async takeOver(request: TakeOverRequestMessage, caller: PeerCaller): Promise<TakeOverResponseMessage> {
    const session = this.sessionFor(request.migration_id, caller);
    this.touch(session);
    const { run } = session;
    const context = { migrationId: request.migration_id };
    if (request.epoch !== run.identity.epoch) {
      throw new EdgeShiftError(
        'ERR_MIGRATION_STALE_EPOCH',
        `take-over at epoch ${request.epoch}, prepared at ${run.identity.epoch}`,
        { context },
      );
    }
    // The direct hand-off got here first: its cutover is this call's answer.
    if (session.takeOver !== undefined) return session.takeOver;
    run.transition([S.PREPARING, S.COPYING_DELTAS], S.ACTIVATING);
    session.takeOver = this.relayedTakeOver(session, request);
    return session.takeOver;
  }

  private async relayedTakeOver(
    session: TargetSession,
    request: TakeOverRequestMessage,
  ): Promise<TakeOverResponseMessage> {
    if (!sha256(request.final_delta).equals(request.final_delta_sha256)) {
      await this.abortLocally(session, 'bad final delta');
      throw checksumMismatch(request.migration_id, 'the final delta');
    }
    const activated = await this.activateLocally(session, request);
    return this.completeTakeOver(session, activated, {
      cutover_notice_token: request.cutover_notice_token,
      source_request_endpoint: request.source_request_endpoint,
    });
  }

  /** From ACTIVATING: the activation is done; cut over, then notify the source's function host. */
  private async completeTakeOver(
    session: TargetSession,
    activated: FunctionHostResponses['activate'],
    notice: Pick<DirectHandOffMessage, 'cutover_notice_token' | 'source_request_endpoint'>,
  ): Promise<TakeOverResponseMessage> {
    const { run } = session;
    run.transition([S.ACTIVATING], S.ACTIVATED);
    const cutoverMs = await this.cutOver(session, notice.source_request_endpoint);
    if (notice.cutover_notice_token !== '') {
      this.options.notifier.notify(notice.source_request_endpoint, {
        service: run.identity.service,
        epoch: run.identity.epoch,
        token: notice.cutover_notice_token,
      });
    }
    return { state_checksum: activated.stateChecksum, epoch: run.identity.epoch, cutover_ms: cutoverMs };
  }

  private async activateLocally(
    session: TargetSession,
    request: TakeOverRequestMessage,
  ): Promise<FunctionHostResponses['activate']> {
    const { run } = session;
    const activated = await this.callHost({
      op: 'activate',
      service: run.identity.service,
      migrationId: request.migration_id,
      epoch: request.epoch,
      ...(request.final_delta.byteLength > 0 ? { delta: request.final_delta } : {}),
    }).catch(async (err: unknown) => {
      await this.abortLocally(session, 'activation failed');
      throw err;
    });
    if (
      request.expected_state_checksum !== '' &&
      activated.stateChecksum !== request.expected_state_checksum
    ) {
      await this.abortLocally(session, 'activated state differs from the source');
      throw checksumMismatch(request.migration_id, `activated state ${activated.stateChecksum}`);
    }
    return activated;
  }

  /** Takes ownership by the service's cutover method; returns how long that took. */
  private async cutOver(session: TargetSession, sourceEndpoint: UdpAddress): Promise<number> {
    const { run } = session;
    run.transition([S.ACTIVATED], S.CUTTING_OVER);
    const startedMs = this.options.clock.nowMs();
    const method = this.options.cutoverMethod(session.cutover);
    const change = {
      migrationId: run.identity.migrationId,
      service: run.identity.service,
      serviceId: session.serviceId,
      epoch: run.identity.epoch,
      newOwner: session.requestEndpoint,
      oldOwner: sourceEndpoint,
    };
    session.pendingCutover = method.takeOwnership(change, this.options.cutoverTimeoutMs);
    try {
      await session.pendingCutover;
      run.transition([S.CUTTING_OVER], S.CUT_OVER);
    } catch (err) {
      if (!(await this.abortLocally(session, 'cutover refused'))) throw err;
    }
    this.touch(session);
    return Math.round(this.options.clock.nowMs() - startedMs);
  }

  commit(request: MigrationRefMessage, caller: PeerCaller): Promise<Record<string, never>> {
    if (this.finished.get(request.migration_id) === S.COMMITTED) return Promise.resolve({});
    const session = this.sessionFor(request.migration_id, caller);
    session.run.transition([S.CUT_OVER], S.COMMITTED);
    this.finish(session);
    return Promise.resolve({});
  }

  async abort(request: AbortRequestMessage, caller: PeerCaller): Promise<AbortResponseMessage> {
    const ended = this.finished.get(request.migration_id);
    if (ended !== undefined) return { outcome: ended === S.ABORTED ? 'dropped' : 'kept' };
    const session = this.sessionFor(request.migration_id, caller);
    // A cutover in flight decides the answer: once the data path switched, the move completes forward.
    await session.pendingCutover?.catch(() => undefined);
    if (!session.run.isPastCutover && !session.run.isFinal) {
      await this.abortLocally(session, `source aborted: ${request.reason}`);
    }
    return { outcome: session.run.isPastCutover ? 'kept' : 'dropped' };
  }

  /** Drops every migration in progress (the agent is shutting down); state past cutover is kept. */
  async close(): Promise<void> {
    for (const session of [...this.sessions.values()]) {
      if (session.run.isPastCutover) this.finish(session);
      else if (!session.run.isIn(S.CUTTING_OVER)) await this.abortLocally(session, 'agent closing');
    }
  }

  private async importChunk(
    session: TargetSession,
    chunk: StateChunkMessage,
    total: SnapshotDigest,
  ): Promise<void> {
    const { migrationId, service } = session.run.identity;
    if (chunk.migration_id !== migrationId) {
      throw new EdgeShiftError(
        'ERR_PEER_BAD_MESSAGE',
        `chunk of migration ${chunk.migration_id} inside ${migrationId}`,
        { context: { migrationId } },
      );
    }
    if (chunk.index !== session.chunksReceived) {
      throw new EdgeShiftError(
        'ERR_PEER_BAD_MESSAGE',
        `chunk ${chunk.index} where ${session.chunksReceived} was due`,
        { context: { migrationId } },
      );
    }
    const chunkSha256 = sha256(chunk.data);
    if (!chunkSha256.equals(chunk.chunk_sha256)) throw checksumMismatch(migrationId, `chunk ${chunk.index}`);
    total.addChunkDigest(chunkSha256);
    await this.callHost({ op: 'importChunk', service, migrationId, index: chunk.index, data: chunk.data });
    session.chunksReceived += 1;
    session.bytesReceived += chunk.data.byteLength;
  }

  private sessionFor(migrationId: string, caller: PeerCaller): TargetSession {
    const session = this.sessions.get(migrationId);
    if (session === undefined) {
      throw new EdgeShiftError(
        'ERR_MIGRATION_UNKNOWN',
        `no migration ${migrationId} into ${this.options.nodeId}`,
        { context: { migrationId } },
      );
    }
    if (session.sourceNodeId !== caller.nodeId) {
      throw new EdgeShiftError(
        'ERR_PEER_UNKNOWN',
        `migration ${migrationId} belongs to ${session.sourceNodeId}, not ${caller.nodeId}`,
        {
          context: { migrationId, caller: caller.nodeId },
        },
      );
    }
    return session;
  }

  private callHost<Op extends FunctionHostRequest['op']>(
    request: Extract<FunctionHostRequest, { op: Op }>,
    timeoutMs = this.options.hostCallTimeoutMs,
  ): Promise<FunctionHostResponses[Op]> {
    return withTimeout(this.options.clock, this.options.host.call(request, timeoutMs), timeoutMs, request.op);
  }

  /** Re-arms the idle timer: silence from the source ends the migration on the safe side. */
  private touch(session: TargetSession): void {
    if (session.idleTimer !== undefined) this.options.clock.clearTimer(session.idleTimer);
    session.idleTimer = this.options.clock.setTimer(() => {
      void this.onIdle(session);
    }, this.options.idleTimeoutMs);
  }

  private async onIdle(session: TargetSession): Promise<void> {
    if (session.run.isFinal || session.run.isIn(S.CUTTING_OVER)) return;
    const { migrationId } = session.run.identity;
    if (session.run.isPastCutover) {
      this.options.log.warn('source went silent after cutover: completing forward', { migrationId });
      session.run.transition([S.CUT_OVER], S.COMMITTED);
      this.finish(session);
      return;
    }
    this.options.log.warn('source went silent before cutover: dropping the partial state', { migrationId });
    await this.abortLocally(session, 'source silent');
  }

  /**
   * Drops the partial state and ends the move as aborted. True when the function host refused because
   * it had claimed the new epoch itself (direct cutover): the move is then cut over, and completes forward.
   */
  private abortLocally(session: TargetSession, reason: string): Promise<boolean> {
    const { run } = session;
    if (run.isFinal || run.isPastCutover) return Promise.resolve(run.isPastCutover);
    session.aborting ??= this.dropPartialState(session, reason);
    return session.aborting;
  }

  private async dropPartialState(session: TargetSession, reason: string): Promise<boolean> {
    const { run } = session;
    run.transition([run.state], S.ABORTING);
    const migrationId = run.identity.migrationId;
    this.options.log.warn('aborting migration into this node', { migrationId, reason });
    try {
      await this.callHost({ op: 'dropState', service: run.identity.service, migrationId });
    } catch (err) {
      if (hasErrorCode(err, 'ERR_FNHOST_CUT_OVER')) {
        this.options.log.warn('the function host holds the new epoch: completing forward', { migrationId });
        run.transition([S.ABORTING], S.CUT_OVER);
        this.touch(session);
        return true;
      }
      this.options.log.error('dropState failed after an abort', { migrationId, err });
    }
    run.transition([S.ABORTING], S.ABORTED);
    this.finish(session);
    return false;
  }

  private finish(session: TargetSession): void {
    if (session.idleTimer !== undefined) this.options.clock.clearTimer(session.idleTimer);
    session.releaseWeight?.();
    if (session.run.state === S.COMMITTED) this.options.onCommitted?.(session.run.identity.migrationId);
    this.sessions.delete(session.run.identity.migrationId);
    this.finished.set(session.run.identity.migrationId, session.run.state);
  }
}
