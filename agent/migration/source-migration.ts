// The source side of one migration: prepare on the target, stream the snapshot in checksummed
// chunks, pre-copy deltas until they are small, freeze (taking the last delta), have the target import
// it, activate (checksums must match) and cut over in one TakeOver call, then hand over buffered
// requests and commit. The freeze window is where requests wait, so it holds three round trips only:
// freeze, TakeOver, handOver; and the target ends it itself, by a notice straight to this node's
// function host, as soon as its cutover is done (the handOver call then finds it done). With the
// direct hand-off the frozen function host also sends the last delta straight to the target's, which
// may activate, claim and send that notice before TakeOver arrives (TakeOver then finds it done).
// Invariant: a failure before CUT_OVER leaves the source serving (resume processes everything it
// buffered) and tells the target to drop its partial state; a failure after CUT_OVER completes forward.
// After the freeze the target is asked first: when its function host has claimed, the move is cut over.
import { randomBytes } from 'node:crypto';

import type { Logger } from '../../components/common/logger.ts';
import type {
  FunctionHostControl,
  FunctionHostRequest,
  FunctionHostResponses,
  UdpAddress,
} from '../../components/function-host/function-host-api.ts';
import { newHandOffKey } from '../../components/function-host/hand-off-seal.ts';
import { withTimeout, type Clock } from '../../components/common/clock.ts';
import type { StreamPriority } from '../cpu-priority.ts';
import type {
  ContestOutcome,
  CutoverKind,
  CutoverMethod,
  OwnershipChange,
} from '../cutover/cutover-method.ts';
import type { PeerClient, TakeOverCall } from '../peer-client.ts';
import type { AbortResponseMessage } from '../peer-proto.ts';
import { MigrationRun, MigrationState as S, type TransitionRecord } from './migration-state.ts';
import { sha256, SnapshotDigest } from './transfer-digest.ts';

/** Step timeouts of a migration, each in milliseconds. */
export interface MigrationTimeouts {
  readonly prepareMs: number;
  /** The whole snapshot stream. */
  readonly transferMs: number;
  readonly deltaMs: number;
  readonly freezeMs: number;
  readonly activateMs: number;
  readonly cutoverMs: number;
  readonly handOverMs: number;
  readonly commitMs: number;
  readonly abortMs: number;
  /** One function host control call (readExportChunk, nextDelta, ...). */
  readonly hostCallMs: number;
}

export interface MigrationSettings {
  readonly chunkBytes: number;
  /**
   * Ceiling on the snapshot stream, bytes per second (0: none). The source keeps serving while it
   * streams: a transfer that takes every CPU cycle shows up as request latency on both nodes.
   */
  readonly transferBytesPerSecond: number;
  /** Pre-copy stops once a delta is smaller than this and its round was quiet... */
  readonly deltaThresholdBytes: number;
  /**
   * ...took at most this long, source host to target host and back (0: any round is quiet). The
   * freeze takes the same path: a slow round means a node still busy with the snapshot, which the
   * requests held by a freeze would wait out...
   */
  readonly quietDeltaRoundMs: number;
  /** ...or after this many rounds, whichever comes first. */
  readonly maxDeltaRounds: number;
  /** Attempts of each step after the cutover (they must eventually succeed). */
  readonly completeForwardAttempts: number;
  /**
   * The source's function host also sends the last delta straight to the target's (sealed), which
   * activates on it without waiting for both agents to relay it; TakeOver carries it as well.
   */
  readonly directHandOff: boolean;
  readonly timeouts: MigrationTimeouts;
}

export interface SourceMigrationPlan {
  readonly migrationId: string;
  readonly service: string;
  readonly serviceId: number;
  readonly isStateful: boolean;
  /** The epoch the source owns the service at; the target will own it at epoch + 1. */
  readonly currentEpoch: number;
  readonly sourceNodeId: string;
  readonly targetNodeId: string;
  readonly cutover: CutoverKind;
  /** Where this node's function host takes the service's requests. */
  readonly sourceEndpoint: UdpAddress;
}

/** The peer calls the source makes (PeerClient, or anything with the same shape). */
export type SourcePeer = Pick<
  PeerClient,
  'prepare' | 'openStateStream' | 'applyDelta' | 'openTakeOver' | 'commit' | 'abort'
>;

export interface SourceMigrationDeps {
  readonly host: FunctionHostControl;
  readonly peer: SourcePeer;
  readonly cutover: CutoverMethod;
  readonly clock: Clock;
  readonly log: Logger;
  readonly settings: MigrationSettings;
  /** The snapshot stream and the pre-copy run at its lower CPU weight; the freeze does not. */
  readonly streamPriority: StreamPriority;
}

export type MigrationOutcome = 'committed' | 'aborted';

export interface MigrationResult {
  readonly migrationId: string;
  readonly service: string;
  readonly sourceNodeId: string;
  readonly targetNodeId: string;
  readonly epoch: number;
  readonly cutover: CutoverKind;
  readonly outcome: MigrationOutcome;
  readonly abortReason?: { readonly code: string; readonly message: string };
  readonly snapshotBytes: number;
  readonly chunkCount: number;
  readonly deltaRounds: number;
  readonly deltaBytes: number;
  readonly transferMs: number;
  /** From the freeze call until the hand-over was acknowledged here (or resumed, on abort). */
  readonly freezeWindowMs: number;
  /** How long the function host held the service frozen, as its requests saw it (0 on abort). */
  readonly serviceFrozenMs: number;
  /** The cutover step alone on the target (CLAIM round trip, or route update). */
  readonly cutoverMs: number;
  readonly totalMs: number;
  readonly bufferedRequests: number;
  readonly forwardedRequests: number;
  readonly transitions: readonly TransitionRecord[];
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

const EMPTY = Buffer.alloc(0);

/** Mutable measurements gathered while the migration runs. */
interface Measurements {
  snapshotBytes: number;
  chunkCount: number;
  deltaRounds: number;
  deltaBytes: number;
  transferMs: number;
  freezeStartMs?: number;
  freezeWindowMs: number;
  serviceFrozenMs: number;
  cutoverMs: number;
  bufferedRequests: number;
  forwardedRequests: number;
  targetEndpoint?: UdpAddress;
}

export class SourceMigration {
  readonly run: MigrationRun;
  private readonly plan: SourceMigrationPlan;
  private readonly deps: SourceMigrationDeps;
  private readonly measured: Measurements = {
    snapshotBytes: 0,
    chunkCount: 0,
    deltaRounds: 0,
    deltaBytes: 0,
    transferMs: 0,
    freezeWindowMs: 0,
    serviceFrozenMs: 0,
    cutoverMs: 0,
    bufferedRequests: 0,
    forwardedRequests: 0,
  };

  constructor(plan: SourceMigrationPlan, deps: SourceMigrationDeps) {
    this.plan = plan;
    this.deps = deps;
    this.run = new MigrationRun(
      {
        migrationId: plan.migrationId,
        service: plan.service,
        role: 'source',
        epoch: plan.currentEpoch + 1,
        peerNodeId: plan.targetNodeId,
      },
      deps.log,
      () => deps.clock.nowMs(),
    );
  }

  get epoch(): number {
    return this.run.identity.epoch;
  }

  /** Runs the migration to COMMITTED or ABORTED; never rejects. */
  async execute(): Promise<MigrationResult> {
    const { plan, deps } = this;
    const startedMs = deps.clock.nowMs();
    // The function hosts cut an in-network move over between themselves: no request waits on this agent.
    const isOffRequestPath = deps.settings.directHandOff && plan.cutover === 'in-network';
    const release = isOffRequestPath ? deps.streamPriority.lower() : undefined;
    let abortReason: MigrationResult['abortReason'];
    try {
      await this.moveUntilCutover();
    } catch (err) {
      if (!this.run.isPastCutover) await this.abort(err);
      if (!this.run.isPastCutover) {
        abortReason = { code: (err as { code?: string }).code ?? 'ERR_UNKNOWN', message: reasonOf(err) };
      }
    }
    try {
      if (this.run.isPastCutover) await this.completeForward();
    } finally {
      release?.();
    }
    return this.result(startedMs, abortReason);
  }

  private async moveUntilCutover(): Promise<void> {
    const { plan, deps } = this;
    const { timeouts } = deps.settings;
    const exported = plan.isStateful
      ? await this.host({
          op: 'beginExport',
          service: plan.service,
          migrationId: plan.migrationId,
          chunkBytes: deps.settings.chunkBytes,
        })
      : undefined;
    this.hasOpenExport = exported !== undefined;
    this.measured.snapshotBytes = exported?.snapshotBytes ?? 0;
    this.measured.chunkCount = exported?.chunkCount ?? 0;
    const prepared = await this.step(
      'prepare',
      deps.peer.prepare(
        {
          migration_id: plan.migrationId,
          service: plan.service,
          service_id: plan.serviceId,
          epoch: this.epoch,
          source_node_id: plan.sourceNodeId,
          is_stateful: plan.isStateful,
          snapshot_bytes: this.measured.snapshotBytes,
          chunk_count: this.measured.chunkCount,
          cutover: plan.cutover,
          ...(deps.settings.directHandOff
            ? {
                direct_hand_off: {
                  key: this.handOffKey,
                  cutover_notice_token: this.noticeToken,
                  source_request_endpoint: plan.sourceEndpoint,
                },
              }
            : {}),
        },
        timeouts.prepareMs,
      ),
      timeouts.prepareMs,
    );
    this.measured.targetEndpoint = prepared.request_endpoint;
    await deps.streamPriority.during(async () => {
      if (exported !== undefined && exported.chunkCount > 0) await this.transferSnapshot(exported.chunkCount);
      if (plan.isStateful) await this.preCopyDeltas();
    });
    // Opened before the freeze, so that inside it only the one message travels.
    const takeOverCall = deps.peer.openTakeOver(timeouts.freezeMs + timeouts.activateMs + timeouts.cutoverMs);
    const frozen = await this.freeze().catch((err: unknown) => {
      takeOverCall.cancel();
      throw err;
    });
    await this.takeOver(takeOverCall, frozen);
  }

  private async transferSnapshot(chunkCount: number): Promise<void> {
    const { plan, deps } = this;
    this.run.transition([S.PREPARING], S.TRANSFERRING_SNAPSHOT);
    const startedMs = deps.clock.nowMs();
    const stream = deps.peer.openStateStream(deps.settings.timeouts.transferMs);
    const send = async (): Promise<void> => {
      const total = new SnapshotDigest();
      const read = (index: number): Promise<FunctionHostResponses['readExportChunk']> => {
        const reading = this.host({
          op: 'readExportChunk',
          service: plan.service,
          migrationId: plan.migrationId,
          index,
        });
        reading.catch(() => undefined); // awaited below; a failure while the previous write waits is not unhandled
        return reading;
      };
      // One chunk is read ahead while the previous one is written: at most two chunks are held here.
      let nextChunk = read(0);
      let sentBytes = 0;
      for (let index = 0; index < chunkCount; index += 1) {
        const chunk = await nextChunk;
        if (index + 1 < chunkCount) nextChunk = read(index + 1);
        const data = asBuffer(chunk.data);
        const chunkSha256 = sha256(data);
        total.addChunkDigest(chunkSha256);
        const isLast = index === chunkCount - 1;
        // write() resolves only when the stream can take more: at most one chunk waits in memory here.
        await stream.write({
          migration_id: plan.migrationId,
          index,
          data,
          chunk_sha256: chunkSha256,
          is_last: isLast,
          total_sha256: isLast ? total.digest() : EMPTY,
        });
        sentBytes += data.byteLength;
        await this.paceTransfer(startedMs, sentBytes);
      }
      await stream.finish();
    };
    await this.step('transfer', send(), deps.settings.timeouts.transferMs, () => stream.cancel());
    this.measured.transferMs = deps.clock.nowMs() - startedMs;
    this.run.transition([S.TRANSFERRING_SNAPSHOT], S.COPYING_DELTAS);
  }

  /** Waits until `sentBytes` is within transferBytesPerSecond of the stream's start. */
  private paceTransfer(startedMs: number, sentBytes: number): Promise<void> {
    const { transferBytesPerSecond } = this.deps.settings;
    if (transferBytesPerSecond <= 0) return Promise.resolve();
    const waitMs = startedMs + (sentBytes / transferBytesPerSecond) * 1000 - this.deps.clock.nowMs();
    if (waitMs <= 0) return Promise.resolve();
    return new Promise((resolve) => this.deps.clock.setTimer(resolve, waitMs));
  }

  private async preCopyDeltas(): Promise<void> {
    if (this.run.state === S.PREPARING) this.run.transition([S.PREPARING], S.COPYING_DELTAS);
    const { deltaThresholdBytes, quietDeltaRoundMs, maxDeltaRounds } = this.deps.settings;
    for (let round = 1; round <= maxDeltaRounds; round += 1) {
      const startedMs = this.deps.clock.nowMs();
      const deltaBytes = await this.sendDelta();
      const isQuiet = quietDeltaRoundMs === 0 || this.deps.clock.nowMs() - startedMs <= quietDeltaRoundMs;
      if (deltaBytes < deltaThresholdBytes && isQuiet) return;
    }
  }

  /** Takes the next delta from the host and applies it on the target; returns its size. */
  private async sendDelta(): Promise<number> {
    const { plan, deps } = this;
    const taken = await this.host({ op: 'nextDelta', service: plan.service, migrationId: plan.migrationId });
    const delta = asBuffer(taken.delta);
    const round = this.measured.deltaRounds + 1;
    await this.step(
      'delta',
      deps.peer.applyDelta(
        { migration_id: plan.migrationId, round, delta, delta_sha256: sha256(delta) },
        deps.settings.timeouts.deltaMs,
      ),
      deps.settings.timeouts.deltaMs,
    );
    this.measured.deltaRounds = round;
    this.measured.deltaBytes += delta.byteLength;
    return delta.byteLength;
  }

  /** An export (snapshot and change tracking) is open on the local function host. */
  private hasOpenExport = false;
  /** Set when this node won the new epoch at the arbiter after an unclear TakeOver: resume at it. */
  private resumeEpoch: number | undefined;
  /** Whether the target kept the service, settled once after the freeze (targetKeptTheService). */
  private targetVerdict: Promise<boolean> | undefined;
  /** True once the target answered an Abort: after the source resumes it needs no telling. */
  private isTargetTold = false;
  /** Lets the target end the freeze itself once its cutover is done (cutoverNotice). */
  private readonly noticeToken = randomBytes(16).toString('hex');
  /** Seals the direct hand-off of the last delta (hand-off-seal.ts). */
  private readonly handOffKey = newHandOffKey();

  private async freeze(): Promise<FunctionHostResponses['freeze']> {
    const { plan, deps } = this;
    this.run.transition([S.PREPARING, S.COPYING_DELTAS], S.FROZEN);
    this.measured.freezeStartMs = deps.clock.nowMs();
    const newOwner = this.measured.targetEndpoint;
    const frozen = await this.step(
      'freeze',
      this.host({
        op: 'freeze',
        service: plan.service,
        migrationId: plan.migrationId,
        ...(newOwner ? { handOverOnNotice: { token: this.noticeToken, epoch: this.epoch, newOwner } } : {}),
        ...(newOwner && deps.settings.directHandOff ? { handOffKey: this.handOffKey } : {}),
      }),
      deps.settings.timeouts.freezeMs,
    );
    this.measured.bufferedRequests = frozen.bufferedRequests;
    return frozen;
  }

  /** The last delta, the target's activation and its cutover in one call. */
  private async takeOver(call: TakeOverCall, frozen: FunctionHostResponses['freeze']): Promise<void> {
    const { plan, deps } = this;
    this.run.transition([S.FROZEN], S.CUTTING_OVER);
    const finalDelta = asBuffer(frozen.finalDelta ?? EMPTY);
    this.measured.deltaBytes += finalDelta.byteLength;
    const request = {
      migration_id: plan.migrationId,
      epoch: this.epoch,
      final_delta: finalDelta,
      final_delta_sha256: sha256(finalDelta),
      expected_state_checksum: plan.isStateful ? frozen.stateChecksum : '',
      source_request_endpoint: plan.sourceEndpoint,
      cutover_notice_token: this.measured.targetEndpoint ? this.noticeToken : '',
    };
    const timeoutMs = deps.settings.timeouts.activateMs + deps.settings.timeouts.cutoverMs;
    try {
      const answer = await this.step('takeOver', call.send(request), timeoutMs);
      this.measured.cutoverMs = answer.cutover_ms;
    } catch (err) {
      // Even a refusal is asked about: the target's function host may have won the epoch by itself.
      if (!(await this.targetKeptTheService(reasonOf(err)))) throw err;
    }
    this.run.transition([S.CUTTING_OVER], S.CUT_OVER);
  }

  /**
   * After the freeze, on any failure: find out whether the target took the service. Ask it (an Abort
   * is answered 'kept' when its cutover went through), and when it cannot be reached, contest the new
   * epoch where the cutover method has an arbiter. Settled once per move; later calls get that verdict.
   */
  private targetKeptTheService(reason: string): Promise<boolean> {
    this.targetVerdict ??= this.askTheTarget(reason);
    return this.targetVerdict;
  }

  private async askTheTarget(reason: string): Promise<boolean> {
    try {
      const answer = await this.abortAtTarget(reason);
      this.isTargetTold = true;
      return answer.outcome === 'kept';
    } catch {
      return this.contestTheEpoch();
    }
  }

  /** True when the target holds the new epoch; false when this node does, or nobody can tell. */
  private async contestTheEpoch(): Promise<boolean> {
    const { deps, plan } = this;
    const context = { migrationId: plan.migrationId, epoch: this.epoch };
    const outcome = await this.contest(this.ownershipChange());
    if (outcome === 'theirs') {
      deps.log.warn('target unreachable, but it holds the new epoch: completing forward', context);
      return true;
    }
    if (outcome === 'ours') {
      // The target can no longer take the new epoch (its CLAIM loses at the data plane, or its function
      // host is fenced): the source resumes at it.
      this.resumeEpoch = this.epoch;
      deps.log.warn('target unreachable; this node holds the new epoch and resumes at it', context);
      return false;
    }
    deps.log.error('cutover outcome unknown and target unreachable: the source resumes', context);
    return false;
  }

  /**
   * The target dropped the move, but a CLAIM its function host sent by itself before the drop may
   * still reach the data plane and win. This node claims the move's epoch first; if the late CLAIM won
   * it already, the next epoch takes the service back (the target forwards what reaches it meanwhile).
   * The source resumes at the epoch it won, or at its own when the data plane does not answer.
   */
  private async outrunALateClaim(): Promise<void> {
    const { plan, deps } = this;
    if (plan.cutover !== 'in-network' || !deps.settings.directHandOff) return;
    for (const epoch of [this.epoch, this.epoch + 1]) {
      const outcome = await this.contest({ ...this.ownershipChange(), epoch, newOwner: plan.sourceEndpoint });
      if (outcome === 'unknown') return;
      if (outcome === 'ours') {
        this.resumeEpoch = epoch;
        return;
      }
    }
  }

  /** Claims `change.epoch` for this node where an arbiter decides; 'unknown' when it cannot be asked. */
  private contest(change: OwnershipChange): Promise<ContestOutcome> {
    return this.deps.cutover
      .contestOwnership(change, this.deps.settings.timeouts.cutoverMs)
      .catch(() => 'unknown' as const);
  }

  private ownershipChange(): OwnershipChange {
    const { plan } = this;
    return {
      migrationId: plan.migrationId,
      service: plan.service,
      serviceId: plan.serviceId,
      epoch: this.epoch,
      newOwner: this.measured.targetEndpoint ?? plan.sourceEndpoint,
      oldOwner: plan.sourceEndpoint,
      ...(this.deps.settings.directHandOff ? { handOffKey: this.handOffKey } : {}),
    };
  }

  private async completeForward(): Promise<void> {
    const { plan, deps } = this;
    const change = this.ownershipChange();
    await this.untilDone('followOwnership', () =>
      deps.cutover.followOwnership(change, deps.settings.timeouts.cutoverMs),
    );
    this.run.transition([S.CUT_OVER], S.HANDING_OVER);
    const handedOver = await this.untilDone('handOver', () =>
      this.host({
        op: 'handOver',
        service: plan.service,
        migrationId: plan.migrationId,
        epoch: this.epoch,
        newOwner: change.newOwner,
      }),
    );
    this.measured.forwardedRequests = handedOver?.forwardedRequests ?? 0;
    this.measured.serviceFrozenMs = handedOver?.frozenMs ?? 0;
    this.measured.freezeWindowMs = deps.clock.nowMs() - (this.measured.freezeStartMs ?? deps.clock.nowMs());
    // The target commits by itself when the source falls silent, so a lost Commit is harmless.
    await this.untilDone('commit', () =>
      deps.peer.commit(
        { migration_id: plan.migrationId, service: plan.service },
        deps.settings.timeouts.commitMs,
      ),
    );
    if (plan.isStateful) {
      await this.untilDone('dropState', () =>
        this.host({ op: 'dropState', service: plan.service, migrationId: plan.migrationId }),
      );
    }
    this.run.transition([S.HANDING_OVER], S.COMMITTED);
  }

  private async abort(cause: unknown): Promise<void> {
    const { plan, deps } = this;
    const wasFrozen = this.measured.freezeStartMs !== undefined;
    this.run.transition([this.run.state], S.ABORTING);
    // Once frozen, the function host may have handed the last delta to the target's directly, so the
    // target may hold the new epoch whatever this agent saw fail: it is asked before the source resumes.
    if (wasFrozen && (await this.targetKeptTheService(reasonOf(cause)))) {
      deps.log.warn('the target holds the new epoch: completing forward', { migrationId: plan.migrationId });
      this.run.transition([S.ABORTING], S.CUT_OVER);
      return;
    }
    deps.log.warn('migration aborted before cutover: the source keeps serving', {
      migrationId: plan.migrationId,
      err: cause,
    });
    if (wasFrozen && this.isTargetTold) await this.outrunALateClaim();
    // resume also ends the export, releasing the snapshot the function host holds for it.
    if (wasFrozen || this.hasOpenExport) {
      const epoch = this.resumeEpoch;
      await this.untilDone('resume', () =>
        this.host({
          op: 'resume',
          service: plan.service,
          migrationId: plan.migrationId,
          ...(epoch === undefined ? {} : { epoch }),
        }),
      );
      if (wasFrozen) this.measured.freezeWindowMs = deps.clock.nowMs() - (this.measured.freezeStartMs ?? 0);
    }
    if (!this.isTargetTold) await this.tellTheTarget(reasonOf(cause));
    this.run.transition([S.ABORTING], S.ABORTED);
  }

  private async tellTheTarget(reason: string): Promise<void> {
    const { plan, deps } = this;
    try {
      await this.abortAtTarget(reason);
    } catch (err) {
      // The target drops its partial state by itself once the source falls silent (idle timeout).
      deps.log.warn('target not told of the abort', { migrationId: plan.migrationId, err });
    }
  }
  /** The target's Abort, bounded by abortMs on this agent's clock; its answer says what it kept. */
  private abortAtTarget(reason: string): Promise<AbortResponseMessage> {
    const { deps, plan } = this;
    const { abortMs } = deps.settings.timeouts;
    return withTimeout(
      deps.clock,
      deps.peer.abort({ migration_id: plan.migrationId, reason }, abortMs),
      abortMs,
      'abort',
    );
  }

  /** Repeats `work` until it succeeds or the attempts run out (steps after the cutover). */
  private async untilDone<T>(step: string, work: () => Promise<T>): Promise<T | undefined> {
    const { completeForwardAttempts, timeouts } = this.deps.settings;
    for (let attempt = 1; attempt <= completeForwardAttempts; attempt += 1) {
      try {
        return await withTimeout(this.deps.clock, work(), timeouts.handOverMs, step);
      } catch (err) {
        this.deps.log.warn('step failed, retrying', {
          step,
          attempt,
          migrationId: this.plan.migrationId,
          err,
        });
      }
    }
    this.deps.log.error('step failed on every attempt', { step, migrationId: this.plan.migrationId });
    return undefined;
  }

  private host<Op extends FunctionHostRequest['op']>(
    request: Extract<FunctionHostRequest, { op: Op }>,
  ): Promise<FunctionHostResponses[Op]> {
    const { hostCallMs } = this.deps.settings.timeouts;
    return withTimeout(this.deps.clock, this.deps.host.call(request, hostCallMs), hostCallMs, request.op, {
      context: { migrationId: this.plan.migrationId },
    });
  }

  private step<T>(name: string, work: Promise<T>, timeoutMs: number, onTimeout?: () => void): Promise<T> {
    return withTimeout(this.deps.clock, work, timeoutMs, name, {
      context: { migrationId: this.plan.migrationId },
      ...(onTimeout ? { onTimeout } : {}),
    });
  }

  private result(startedMs: number, abortReason: MigrationResult['abortReason']): MigrationResult {
    const { plan, measured } = this;
    return {
      migrationId: plan.migrationId,
      service: plan.service,
      sourceNodeId: plan.sourceNodeId,
      targetNodeId: plan.targetNodeId,
      epoch: this.epoch,
      cutover: plan.cutover,
      outcome: this.run.state === S.COMMITTED ? 'committed' : 'aborted',
      ...(abortReason ? { abortReason } : {}),
      snapshotBytes: measured.snapshotBytes,
      chunkCount: measured.chunkCount,
      deltaRounds: measured.deltaRounds,
      deltaBytes: measured.deltaBytes,
      transferMs: measured.transferMs,
      freezeWindowMs: measured.freezeWindowMs,
      serviceFrozenMs: measured.serviceFrozenMs,
      cutoverMs: measured.cutoverMs,
      totalMs: this.deps.clock.nowMs() - startedMs,
      bufferedRequests: measured.bufferedRequests,
      forwardedRequests: measured.forwardedRequests,
      transitions: this.run.transitions,
    };
  }
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
