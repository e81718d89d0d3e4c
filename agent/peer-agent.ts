// The peer agent of one node: serves the PeerAgent gRPC service (target side of moves into this
// node, status, pull requests), starts moves out of this node (source side), and owns the clients to
// its peers and the cutover methods. main.ts builds it from the validated configuration; the local
// control server and ADVICE handling call migrate()/status(). Invariant: at most one migration per
// service at a time on this node, in either direction.
import { randomUUID } from 'node:crypto';

import type * as grpc from '@grpc/grpc-js';

import type {
  DrainedService,
  DrainReport,
  KeptService,
} from '../components/common/agent-control-contract.ts';
import { EdgeShiftError } from '../components/common/errors.ts';
import type { Logger } from '../components/common/logger.ts';
import type {
  FunctionHostControl,
  FunctionSummary,
  UdpAddress,
} from '../components/function-host/function-host-api.ts';
import type { Clock } from '../components/common/clock.ts';
import { UNCHANGED_PRIORITY, type StreamPriority } from './cpu-priority.ts';
import type { CutoverKind, CutoverMethod } from './cutover/cutover-method.ts';
import type { DataPlaneLink } from '../components/common/data-plane-link.ts';
import type { CutoverNotifier } from './cutover/cutover-notifier.ts';
import type { EdgeShiftHeader } from '../p4/protocol/edgeshift-header.ts';
import { PacketType } from '../p4/protocol/edgeshift-protocol.ts';
import { InNetworkCutover } from './cutover/in-network-cutover.ts';
import { ReconfigurationCutover } from './cutover/reconfiguration-cutover.ts';
import {
  SourceMigration,
  type MigrationResult,
  type MigrationSettings,
} from './migration/source-migration.ts';
import { TargetMigrations } from './migration/target-migrations.ts';
import { PeerClient } from './peer-client.ts';
import { PlacementPolicy, type PlacementDecision, type PlacementThresholds } from './placement-policy.ts';
import { buildPeerCodecs, type MigrationStatusMessage } from './peer-proto.ts';
import { startPeerServer, type PeerCaller, type PeerHandlers, type PeerServer } from './peer-server.ts';
import type { TlsMaterial } from './peer-tls.ts';

export interface AgentService {
  readonly name: string;
  /** Id in the data plane's tables (1..SERVICE_COUNT-1). */
  readonly serviceId: number;
  readonly cutover: CutoverKind;
  /** UDP port on which this node's function host takes the service's requests. */
  readonly port: number;
}

export interface AgentPeer {
  readonly nodeId: string;
  /** Id in the data plane's tables (1..NODE_COUNT-1). */
  readonly nodeNumber: number;
  readonly grpcAddress: string;
}

export interface PeerAgentSettings extends MigrationSettings {
  /** A target drops an unfinished move after this much silence from the source. */
  readonly targetIdleTimeoutMs: number;
  readonly claimRetransmitMs: number;
  /** Timeout of status and pull calls between agents. */
  readonly peerCallTimeoutMs: number;
}

export interface PeerAgentOptions {
  readonly nodeId: string;
  readonly nodeNumber: number;
  /** Address on which this node's function host takes requests (with each service's port). */
  readonly requestAddress: string;
  /** host:port for the gRPC server (port 0 picks a free one). */
  readonly listenAddress: string;
  readonly services: readonly AgentService[];
  readonly peers: readonly AgentPeer[];
  readonly host: FunctionHostControl;
  readonly tls: TlsMaterial;
  /** Needed when a service cuts over in-network. */
  readonly dataPlaneLink?: DataPlaneLink;
  /** Sends the cutoverNotice to a source's function host after a move into this node. */
  readonly notifier: CutoverNotifier;
  readonly clock: Clock;
  readonly log: Logger;
  readonly settings: PeerAgentSettings;
  /** When ADVICE may start a move (hysteresis, K samples, cool-down). */
  readonly placement: PlacementThresholds;
  readonly channelOptions?: grpc.ChannelOptions;
  /** The CPU weight snapshot streams run at, both ways (default: unchanged). */
  readonly streamPriority?: StreamPriority;
}

/** What the agent did with one ADVICE packet. */
export type AdviceOutcome =
  | { readonly kind: 'ignored'; readonly reason: string }
  | { readonly kind: 'declined'; readonly decision: PlacementDecision }
  | { readonly kind: 'started'; readonly migrationId: string; readonly result: Promise<MigrationResult> };

export interface MigrationHandle {
  readonly migrationId: string;
  readonly result: Promise<MigrationResult>;
}

export interface AgentStatus {
  readonly nodeId: string;
  readonly functions: readonly FunctionSummary[];
  readonly migrations: readonly MigrationStatusMessage[];
  readonly lastResults: readonly MigrationResult[];
}

const KEPT_RESULTS = 20;

export class PeerAgent {
  readonly options: PeerAgentOptions;
  private readonly target: TargetMigrations;
  private readonly clients = new Map<string, PeerClient>();
  private readonly running = new Map<string, SourceMigration>();
  private readonly pendingResults = new Set<Promise<MigrationResult>>();
  /** The result of the move out of this node in progress, per service. */
  private readonly outgoingResults = new Map<string, Promise<MigrationResult>>();
  private readonly results: MigrationResult[] = [];
  private readonly policy: PlacementPolicy;
  private readonly streamPriority: StreamPriority;
  private localLoadBp?: number;
  private unsubscribeAdvice?: () => void;
  private server?: PeerServer;

  private constructor(options: PeerAgentOptions) {
    this.options = options;
    this.streamPriority = options.streamPriority ?? UNCHANGED_PRIORITY;
    this.policy = new PlacementPolicy(options.placement);
    this.target = new TargetMigrations({
      nodeId: options.nodeId,
      host: options.host,
      clock: options.clock,
      log: options.log.child('target'),
      lookupService: (name) => {
        const service = this.serviceNamed(name);
        return (
          service && {
            serviceId: service.serviceId,
            cutover: service.cutover,
            requestEndpoint: this.endpointOf(service),
          }
        );
      },
      cutoverMethod: (kind) => this.cutoverMethod(kind),
      ...(options.dataPlaneLink === undefined
        ? {}
        : {
            directCutover: {
              dataPlane: options.dataPlaneLink.dataPlane,
              nodeNumber: options.nodeNumber,
              retransmitMs: options.settings.claimRetransmitMs,
            },
          }),
      notifier: options.notifier,
      streamPriority: this.streamPriority,
      idleTimeoutMs: options.settings.targetIdleTimeoutMs,
      hostCallTimeoutMs: options.settings.timeouts.hostCallMs,
      // The target gives up on its CLAIM before the source gives up on the TakeOver call (activateMs +
      // cutoverMs), so the source nearly always gets a definite answer; a broken link leaves it to be settled.
      cutoverTimeoutMs: Math.max(1, Math.floor(options.settings.timeouts.cutoverMs * 0.8)),
      onCommitted: () => this.policy.recordMove(options.clock.nowMs()),
    });
  }

  static async start(options: PeerAgentOptions): Promise<PeerAgent> {
    buildPeerCodecs();
    const agent = new PeerAgent(options);
    agent.server = await startPeerServer({
      listenAddress: options.listenAddress,
      tls: options.tls,
      handlers: agent.handlers(),
      allowedPeerNodeIds: options.peers.map((peer) => peer.nodeId),
      // A peer's call ends by its own deadline within this time, so waiting longer gains nothing.
      closeGraceMs: options.settings.peerCallTimeoutMs,
    });
    agent.unsubscribeAdvice = options.dataPlaneLink?.subscribe((header) => {
      if (header.type === PacketType.ADVICE) void agent.handleAdvice(header);
    });
    for (const peer of options.peers) agent.clientFor(peer).connect();
    return agent;
  }

  get port(): number {
    return this.server?.port ?? 0;
  }

  /** Moves `service`, which this node must own, to `targetNodeId` (default: the only peer). */
  migrate(service: string, targetNodeId?: string): Promise<MigrationResult> {
    return this.startMigration(service, targetNodeId).then((handle) => handle.result);
  }

  async startMigration(serviceName: string, targetNodeId?: string): Promise<MigrationHandle> {
    const service = this.requireService(serviceName);
    const peer = this.resolvePeer(targetNodeId);
    if (this.isBusy(serviceName)) {
      throw new EdgeShiftError(
        'ERR_MIGRATION_BUSY',
        `a migration of '${serviceName}' is in progress on ${this.options.nodeId}`,
        {
          context: { service: serviceName },
        },
      );
    }
    const summary = await this.summaryOf(serviceName);
    if (summary.role !== 'owner') {
      throw new EdgeShiftError(
        'ERR_MIGRATION_NOT_OWNER',
        `${this.options.nodeId} is '${summary.role}' for '${serviceName}', not its owner`,
        {
          context: { service: serviceName, role: summary.role },
        },
      );
    }
    const migrationId = `${serviceName}-e${summary.epoch + 1}-${randomUUID().slice(0, 8)}`;
    const migration = new SourceMigration(
      {
        migrationId,
        service: serviceName,
        serviceId: service.serviceId,
        isStateful: summary.isStateful,
        currentEpoch: summary.epoch,
        sourceNodeId: this.options.nodeId,
        targetNodeId: peer.nodeId,
        cutover: service.cutover,
        sourceEndpoint: this.endpointOf(service),
      },
      {
        host: this.options.host,
        peer: this.clientFor(peer),
        cutover: this.cutoverMethod(service.cutover),
        clock: this.options.clock,
        log: this.options.log.child('source'),
        settings: this.options.settings,
        streamPriority: this.streamPriority,
      },
    );
    this.running.set(serviceName, migration);
    const result = migration.execute().then((outcome) => {
      this.running.delete(serviceName);
      if (outcome.outcome === 'committed') this.policy.recordMove(this.options.clock.nowMs());
      this.results.unshift(outcome);
      this.results.splice(KEPT_RESULTS);
      return outcome;
    });
    this.pendingResults.add(result);
    this.outgoingResults.set(serviceName, result);
    void result.finally(() => {
      this.pendingResults.delete(result);
      this.outgoingResults.delete(serviceName);
    });
    return { migrationId, result };
  }

  /** Asks `fromNodeId` (default: the only peer) to move `service` here. */
  async pull(
    service: string,
    fromNodeId?: string,
    reason = 'pull requested',
  ): Promise<{ migrationId: string; detail: string }> {
    this.requireService(service);
    const peer = this.resolvePeer(fromNodeId);
    const answer = await this.clientFor(peer).requestMigration(
      { service, requester_node_id: this.options.nodeId, reason },
      this.options.settings.peerCallTimeoutMs,
    );
    return { migrationId: answer.migration_id, detail: answer.detail };
  }

  /**
   * Moves every service this node owns to a peer, all at once: to the first peer, in configured order,
   * with which the move commits. The function host asks for it before it stops, so a planned restart
   * (a deployment, an operator) leaves no gap in service; what no peer takes stays here and is reported.
   */
  async drain(): Promise<DrainReport> {
    const functions = await this.functions();
    const owned = functions.filter(
      (entry) => entry.role === 'owner' && this.serviceNamed(entry.service) !== undefined,
    );
    const outcomes = await Promise.all(owned.map((entry) => this.moveAway(entry.service)));
    const report = {
      moved: outcomes.filter((outcome): outcome is DrainedService => 'migrationId' in outcome),
      kept: outcomes.filter((outcome): outcome is KeptService => 'reason' in outcome),
    };
    this.options.log.info('drained', {
      moved: report.moved.map((entry) => entry.service),
      kept: report.kept.map((entry) => entry.service),
    });
    return report;
  }

  private async moveAway(service: string): Promise<DrainedService | KeptService> {
    // A move out already under way (ADVICE, an operator) is as good as the drain's own, if it commits.
    const underWay = await this.outgoingResults.get(service);
    if (underWay?.outcome === 'committed') {
      const { targetNodeId, migrationId, epoch } = underWay;
      return { service, targetNodeId, migrationId, epoch };
    }
    if (this.isBusy(service)) return { service, reason: 'a move into this node is still finishing' };
    const refusals: string[] = [];
    for (const peer of this.options.peers) {
      try {
        const result = await this.migrate(service, peer.nodeId);
        if (result.outcome === 'committed') {
          const { migrationId, epoch } = result;
          return { service, targetNodeId: peer.nodeId, migrationId, epoch };
        }
        refusals.push(`${peer.nodeId}: ${result.abortReason?.message ?? 'aborted'}`);
      } catch (err) {
        refusals.push(`${peer.nodeId}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return { service, reason: refusals.length === 0 ? 'no peer is configured' : refusals.join('; ') };
  }

  /** This node's latest smoothed load (the node monitor's report), used for ADVICE decisions. */
  observeLocalLoad(loadBp: number): void {
    this.localLoadBp = loadBp;
  }

  /**
   * ADVICE from the data plane ("offload service S to node X") starts a move only when the placement
   * policy agrees. Without a local load report the data plane's own judgement (overloaded) stands in.
   */
  async handleAdvice(header: EdgeShiftHeader): Promise<AdviceOutcome> {
    const log = this.options.log;
    const service = this.options.services.find((entry) => entry.serviceId === header.serviceId);
    const peer = this.options.peers.find((entry) => entry.nodeNumber === header.targetNodeId);
    let outcome: AdviceOutcome;
    if (header.nodeId !== this.options.nodeNumber)
      outcome = { kind: 'ignored', reason: `addressed to node ${header.nodeId}` };
    else if (service === undefined)
      outcome = { kind: 'ignored', reason: `unknown service id ${header.serviceId}` };
    else if (peer === undefined)
      outcome = { kind: 'ignored', reason: `unknown target node ${header.targetNodeId}` };
    else if (this.isBusy(service.name))
      outcome = { kind: 'ignored', reason: `'${service.name}' is already moving` };
    else {
      const decision = this.policy.observe({
        nowMs: this.options.clock.nowMs(),
        localLoadBp: this.localLoadBp ?? this.options.placement.highLoadBp,
        peerLoadBp: Math.max(header.cpuLoadBp, header.memLoadBp),
      });
      outcome =
        decision.kind === 'stay'
          ? { kind: 'declined', decision }
          : await this.startFromAdvice(service.name, peer.nodeId);
    }
    log.info('ADVICE handled', {
      serviceId: header.serviceId,
      targetNodeId: header.targetNodeId,
      outcome: outcome.kind,
    });
    return outcome;
  }

  private async startFromAdvice(service: string, targetNodeId: string): Promise<AdviceOutcome> {
    try {
      const handle = await this.startMigration(service, targetNodeId);
      return { kind: 'started', migrationId: handle.migrationId, result: handle.result };
    } catch (err) {
      return { kind: 'ignored', reason: (err as Error).message };
    }
  }

  /**
   * Run when the function host has (re)started: a service it says it owns, but that the arbiter gives
   * another node, stands down, so a host that came back in its configured role does not serve from an
   * empty state. Services in a move are left to it. Returns the services that stood down.
   */
  async reconcileOwnership(): Promise<string[]> {
    const functions = await this.functions();
    const stoodDown: string[] = [];
    for (const entry of functions) {
      if (entry.role !== 'owner' || this.isBusy(entry.service)) continue;
      if (await this.target.standDownIfSuperseded(entry.service, entry.epoch)) stoodDown.push(entry.service);
    }
    return stoodDown;
  }

  isBusy(service: string): boolean {
    return this.running.has(service) || this.target.isBusy(service);
  }

  async status(): Promise<AgentStatus> {
    const functions = await this.functions();
    return {
      nodeId: this.options.nodeId,
      functions,
      migrations: this.migrationStatus(),
      lastResults: [...this.results],
    };
  }

  /**
   * Drains, then stops: moves out of this node run to their end (each step has a timeout), then the
   * server stops taking calls and moves into this node that are not past cutover are dropped.
   */
  async close(): Promise<void> {
    this.unsubscribeAdvice?.();
    await Promise.allSettled([...this.pendingResults]);
    await this.server?.close();
    await this.target.close();
    for (const client of this.clients.values()) client.close();
  }

  /** Stops at once (tests use it to make a node die). */
  destroy(): void {
    this.unsubscribeAdvice?.();
    this.server?.destroy();
    for (const client of this.clients.values()) client.close();
  }

  private handlers(): PeerHandlers {
    const target = this.target;
    return {
      prepare: (request, caller) => {
        if (this.running.has(request.service)) {
          return Promise.reject(
            new EdgeShiftError(
              'ERR_MIGRATION_BUSY',
              `${this.options.nodeId} is moving '${request.service}' out`,
              {
                context: { service: request.service },
              },
            ),
          );
        }
        return target.prepare(request, caller);
      },
      transferState: (chunks, caller) => target.transferState(chunks, caller),
      applyDelta: (request, caller) => target.applyDelta(request, caller),
      takeOver: (request, caller) => target.takeOver(request, caller),
      commit: (request, caller) => target.commit(request, caller),
      abort: (request, caller) => target.abort(request, caller),
      getStatus: () => Promise.resolve({ node_id: this.options.nodeId, migrations: this.migrationStatus() }),
      requestMigration: (request, caller) => this.onPullRequest(request.service, caller),
    };
  }

  private async onPullRequest(
    service: string,
    caller: PeerCaller,
  ): Promise<{ accepted: boolean; migration_id: string; detail: string }> {
    const handle = await this.startMigration(service, caller.nodeId);
    void handle.result.then((result) =>
      this.options.log.info('pulled migration finished', {
        migrationId: result.migrationId,
        outcome: result.outcome,
      }),
    );
    return {
      accepted: true,
      migration_id: handle.migrationId,
      detail: `moving '${service}' to ${caller.nodeId}`,
    };
  }

  private migrationStatus(): MigrationStatusMessage[] {
    const outgoing = [...this.running.values()].map(({ run }) => ({
      migration_id: run.identity.migrationId,
      service: run.identity.service,
      role: 'source',
      state: run.state,
      epoch: run.identity.epoch,
      peer_node_id: run.identity.peerNodeId,
    }));
    return [...outgoing, ...this.target.status()];
  }

  private cutoverMethod(kind: CutoverKind): CutoverMethod {
    if (kind === 'reconfiguration') return new ReconfigurationCutover(this.options.host);
    const link = this.options.dataPlaneLink;
    if (link === undefined) {
      throw new EdgeShiftError(
        'ERR_CONFIG_INVALID',
        `in-network cutover needs dataPlane in the configuration of ${this.options.nodeId}`,
        {
          context: { component: 'com.edgeshift.PeerAgent' },
        },
      );
    }
    return new InNetworkCutover({
      link,
      nodeNumber: this.options.nodeNumber,
      clock: this.options.clock,
      retransmitMs: this.options.settings.claimRetransmitMs,
    });
  }

  private clientFor(peer: AgentPeer): PeerClient {
    let client = this.clients.get(peer.nodeId);
    if (client === undefined) {
      client = new PeerClient({
        peerNodeId: peer.nodeId,
        grpcAddress: peer.grpcAddress,
        tls: this.options.tls,
        ...(this.options.channelOptions ? { channelOptions: this.options.channelOptions } : {}),
      });
      this.clients.set(peer.nodeId, client);
    }
    return client;
  }

  /** What the function host runs, with each service's role and epoch. */
  private functions(): Promise<readonly FunctionSummary[]> {
    return this.options.host.call({ op: 'listFunctions' }, this.options.settings.timeouts.hostCallMs);
  }

  private async summaryOf(service: string): Promise<FunctionSummary> {
    const functions = await this.functions();
    const summary = functions.find((entry) => entry.service === service);
    if (summary === undefined) {
      throw new EdgeShiftError(
        'ERR_MIGRATION_UNKNOWN_SERVICE',
        `the function host of ${this.options.nodeId} does not run '${service}'`,
        {
          context: { service },
        },
      );
    }
    return summary;
  }

  private serviceNamed(name: string): AgentService | undefined {
    return this.options.services.find((service) => service.name === name);
  }

  private requireService(name: string): AgentService {
    const service = this.serviceNamed(name);
    if (service === undefined) {
      throw new EdgeShiftError(
        'ERR_MIGRATION_UNKNOWN_SERVICE',
        `service '${name}' is not configured on ${this.options.nodeId}`,
        {
          context: { service: name },
        },
      );
    }
    return service;
  }

  /** The peer named, or the only peer when none is named. */
  resolvePeer(nodeId?: string): AgentPeer {
    const { peers } = this.options;
    const peer =
      nodeId === undefined
        ? peers.length === 1
          ? peers[0]
          : undefined
        : peers.find((entry) => entry.nodeId === nodeId);
    if (peer === undefined) {
      throw new EdgeShiftError(
        'ERR_PEER_UNKNOWN',
        `no peer '${nodeId ?? '(none named, several configured)'}' in the configuration`,
        {
          context: { nodeId: nodeId ?? '' },
        },
      );
    }
    return peer;
  }

  private endpointOf(service: AgentService): UdpAddress {
    return { address: this.options.requestAddress, port: service.port };
  }
}
