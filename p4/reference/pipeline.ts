// The reference data plane's decision core: the EdgeShift pipeline of docs/protocol.md §2 on whole
// frames (Ethernet/IPv4/UDP bytes in, frames and ports out), with the program's tables, registers
// and counter under the same names. Driven by the STF runner (p4/stf/) and the socket relay
// (udp-relay.ts). Invariant: one pass per frame, no I/O, no clock of its own (callers pass nowUs).
import { EdgeShiftError } from '../../components/common/errors.ts';
import { isNewerSequence } from '../protocol/edgeshift-header.ts';
import { PacketType } from '../protocol/edgeshift-protocol.ts';
import { EDGESHIFT_FIELD as ES, FIELD, deparseFrame, parseFrame, type ParsedFrame } from './frame-parser.ts';
import {
  ACTIONS,
  ACTION_NAMES,
  COUNTERS,
  COUNTER_NAMES,
  DropReason,
  REGISTERS,
  REGISTER_NAMES,
  TABLES,
  TABLE_NAMES,
  resolveName,
  type DropReasonCode,
} from './program.ts';
import { CounterArray, RegisterArray, wrap } from './registers.ts';
import {
  MatchTable,
  type ActionDefinition,
  type ActionParams,
  type KeyMatch,
  type TableEntry,
} from './tables.ts';

/** BMv2 simple_switch drops a packet whose egress_spec is this port (what mark_to_drop sets). */
export const BMV2_DROP_PORT = 511;

export interface PipelineOutput {
  readonly port: number;
  readonly frame: Buffer;
}

export type PipelineEvent =
  | {
      readonly kind: 'metrics';
      readonly nodeId: number;
      readonly sequence: number;
      readonly cpuLoadBp: number;
      readonly memLoadBp: number;
      readonly inflightRequests: number;
      readonly overloadStreak: number;
    }
  | {
      readonly kind: 'advice';
      readonly nodeId: number;
      readonly serviceId: number;
      readonly targetNodeId: number;
      readonly epoch: number;
      readonly sequence: number;
      readonly nodeLoadBp: number;
      readonly targetLoadBp: number;
    }
  | {
      readonly kind: 'claim';
      readonly nodeId: number;
      readonly serviceId: number;
      readonly epoch: number;
      readonly isAccepted: boolean;
      readonly ownerNodeId: number;
      readonly epochInForce: number;
    }
  | { readonly kind: 'drop'; readonly reason: DropReasonCode; readonly ingressPort: number };

export type PipelineListener = (event: PipelineEvent) => void;

interface Policy {
  readonly loadHighBp: number;
  readonly loadLowBp: number;
  readonly overloadReports: number;
  readonly livenessReports: number;
  readonly livenessTimeoutUs: number;
}

const NO_OUTPUT: PipelineOutput[] = [];
const CLOCK_MODULUS = 2 ** 32;
const TIMESTAMP_MODULUS = 2 ** 48;
const STREAK_MAX = 255;

export class ReferencePipeline {
  private readonly tablesByName = new Map<string, MatchTable>();
  private readonly registersByName = new Map<string, RegisterArray>();
  private readonly countersByName = new Map<string, CounterArray>();
  private readonly listeners = new Set<PipelineListener>();
  private cachedPolicy: Policy | undefined;
  private cachedPolicyVersion = -1;

  private readonly nodeTable: MatchTable;
  private readonly serviceTable: MatchTable;
  private readonly replyTable: MatchTable;
  private readonly ipv4Lpm: MatchTable;
  private readonly policyTable: MatchTable;
  private readonly cpuLoad: RegisterArray;
  private readonly memLoad: RegisterArray;
  private readonly inflight: RegisterArray;
  private readonly lastSequence: RegisterArray;
  private readonly lastReportClock: RegisterArray;
  private readonly lastSeenUs: RegisterArray;
  private readonly overloadStreak: RegisterArray;
  private readonly reportClock: RegisterArray;
  private readonly serviceOwner: RegisterArray;
  private readonly serviceEpoch: RegisterArray;
  private readonly dropReasons: CounterArray;

  constructor(options: { onEvent?: PipelineListener } = {}) {
    if (options.onEvent !== undefined) this.listeners.add(options.onEvent);
    const actions = new Map(ACTIONS.map((action) => [action.name, action]));
    for (const table of TABLES) this.tablesByName.set(table.name, new MatchTable(table, actions));
    for (const register of REGISTERS) {
      this.registersByName.set(
        register.name,
        new RegisterArray(register.name, register.widthBits, register.size),
      );
    }
    for (const counter of COUNTERS)
      this.countersByName.set(counter.name, new CounterArray(counter.name, counter.size));

    this.nodeTable = this.table(TABLE_NAMES.node);
    this.serviceTable = this.table(TABLE_NAMES.service);
    this.replyTable = this.table(TABLE_NAMES.reply);
    this.ipv4Lpm = this.table(TABLE_NAMES.ipv4Lpm);
    this.policyTable = this.table(TABLE_NAMES.policy);
    this.cpuLoad = this.register(REGISTER_NAMES.nodeCpuLoad);
    this.memLoad = this.register(REGISTER_NAMES.nodeMemLoad);
    this.inflight = this.register(REGISTER_NAMES.nodeInflight);
    this.lastSequence = this.register(REGISTER_NAMES.nodeLastSequence);
    this.lastReportClock = this.register(REGISTER_NAMES.nodeLastReportClock);
    this.lastSeenUs = this.register(REGISTER_NAMES.nodeLastSeenUs);
    this.overloadStreak = this.register(REGISTER_NAMES.nodeOverloadStreak);
    this.reportClock = this.register(REGISTER_NAMES.metricsReportClock);
    this.serviceOwner = this.register(REGISTER_NAMES.serviceOwner);
    this.serviceEpoch = this.register(REGISTER_NAMES.serviceEpoch);
    this.dropReasons = this.counter(COUNTER_NAMES.dropReasons);
  }

  // --- control plane -------------------------------------------------------------------------

  /** A table by full name or unique suffix (`node_table`). */
  table(name: string): MatchTable {
    const table = this.tablesByName.get(resolveName('table', name, [...this.tablesByName.keys()]));
    if (table === undefined) throw new Error(`unreachable: resolved table ${name} missing`);
    return table;
  }

  tables(): readonly MatchTable[] {
    return [...this.tablesByName.values()];
  }

  register(name: string): RegisterArray {
    const register = this.registersByName.get(
      resolveName('register', name, [...this.registersByName.keys()]),
    );
    if (register === undefined) throw new Error(`unreachable: resolved register ${name} missing`);
    return register;
  }

  registers(): readonly RegisterArray[] {
    return [...this.registersByName.values()];
  }

  counter(name: string): CounterArray {
    const counter = this.countersByName.get(resolveName('counter', name, [...this.countersByName.keys()]));
    if (counter === undefined) throw new Error(`unreachable: resolved counter ${name} missing`);
    return counter;
  }

  counters(): readonly CounterArray[] {
    return [...this.countersByName.values()];
  }

  /**
   * Adds an entry. Key fields are named as in the program or by suffix (`node_id`); a plain number is
   * an exact value, or a full-width prefix / full mask for LPM / ternary keys. Action by full name or
   * suffix among the table's actions.
   */
  addEntry(
    tableName: string,
    keys: Readonly<Record<string, number | KeyMatch>>,
    actionName: string,
    params: ActionParams,
    priority?: number,
  ): TableEntry {
    const table = this.table(tableName);
    const definitions = table.definition.keys;
    const keyNames = definitions.map((key) => key.name);
    const given = new Map<string, number | KeyMatch>();
    for (const [name, value] of Object.entries(keys))
      given.set(resolveKeyName(name, keyNames, table.name), value);
    const matches = definitions.map((key): KeyMatch => {
      const value = given.get(key.name);
      if (value === undefined) {
        throw new EdgeShiftError(
          'ERR_DATAPLANE_BAD_ENTRY',
          `table ${table.name}: key ${key.name} is missing`,
          {
            context: { table: table.name },
          },
        );
      }
      if (typeof value !== 'number') return value;
      if (key.matchKind === 'lpm') return { kind: 'lpm', value, prefixLength: key.widthBits };
      if (key.matchKind === 'ternary') return { kind: 'ternary', value, mask: 2 ** key.widthBits - 1 };
      return { kind: 'exact', value };
    });
    return table.add(matches, this.resolveAction(table, actionName), params, priority);
  }

  setDefault(tableName: string, actionName: string, params: ActionParams): void {
    const table = this.table(tableName);
    table.setDefault(this.resolveAction(table, actionName), params);
  }

  resolveAction(table: MatchTable, actionName: string): string {
    return resolveName(`action of ${table.name}`, actionName, table.definition.actions);
  }

  /** An action of `table` by full name or suffix, with its parameters in declaration order. */
  actionDefinition(table: MatchTable, actionName: string): ActionDefinition {
    const name = this.resolveAction(table, actionName);
    const definition = ACTIONS.find((action) => action.name === name);
    if (definition === undefined) throw new Error(`unreachable: action ${name} has no definition`);
    return definition;
  }

  readRegister(name: string, index: number): number {
    return this.register(name).read(index);
  }

  writeRegister(name: string, index: number, value: number): void {
    this.register(name).write(index, value);
  }

  readCounter(name: string, index: number): { packets: number; bytes: number } {
    return this.counter(name).read(index);
  }

  // --- data plane --------------------------------------------------------------------------------

  /** One pass of the pipeline over `frame` arriving on `ingressPort` at `nowUs`. Never throws. */
  process(frame: Uint8Array, ingressPort: number, nowUs: bigint): PipelineOutput[] {
    const parsed = parseFrame(frame);
    // Step 1: BMv2 runs ingress even after a parser error, so the program drops it first.
    if (parsed.parserError !== 'NoError') return this.drop(DropReason.MALFORMED, parsed, ingressPort);
    if (parsed.isChecksumError) return this.drop(DropReason.IPV4_CHECKSUM, parsed, ingressPort);
    if (!parsed.isIpv4Valid) return this.drop(DropReason.NOT_IPV4, parsed, ingressPort);
    const now = Number(BigInt.asUintN(48, nowUs));
    // Step 2: control packets never fall through to the request path.
    if (parsed.isEdgeShiftValid) return this.handleControlPacket(parsed, ingressPort, now);
    if (parsed.isUdpValid) {
      // Step 3: a request to a VIP is steered and never reaches forwarding.
      const service = this.serviceTable.lookup([
        parsed.bytes.readUInt32BE(FIELD.ipv4Dst),
        parsed.bytes.readUInt16BE(FIELD.udpDstPort),
      ]);
      if (service.hit) return this.steerRequest(parsed, ingressPort, service.action, service.params, now);
      // Step 4: a reply from a service gets the VIP as source, then is forwarded.
      const reply = this.replyTable.lookup([
        parsed.bytes.readUInt32BE(FIELD.ipv4Src),
        parsed.bytes.readUInt16BE(FIELD.udpSrcPort),
      ]);
      if (reply.hit && reply.action === ACTION_NAMES.setVipSource) {
        parsed.bytes.writeUInt32BE(reply.params.vip ?? 0, FIELD.ipv4Src);
        parsed.bytes.writeUInt16BE(0, FIELD.udpChecksum);
      }
    }
    // Step 5.
    return this.forward(parsed, ingressPort);
  }

  private handleControlPacket(parsed: ParsedFrame, ingressPort: number, now: number): PipelineOutput[] {
    const bytes = parsed.bytes;
    const nodeId = bytes.readUInt16BE(ES.nodeId);
    const node = this.lookupNode(nodeId);
    const isAuthentic =
      node !== undefined && node.ipv4_addr === bytes.readUInt32BE(FIELD.ipv4Src) && node.port === ingressPort;
    if (!isAuthentic) return this.drop(DropReason.UNKNOWN_SENDER, parsed, ingressPort);
    const type = bytes[ES.type];
    if (type === PacketType.METRICS) {
      if (!this.trackNodeLoad(nodeId, bytes, now))
        return this.drop(DropReason.STALE_SEQUENCE, parsed, ingressPort);
      return this.decideOffloadAdvice(nodeId, node, parsed, ingressPort, now);
    }
    if (type === PacketType.CLAIM) return this.handleClaim(nodeId, parsed, ingressPort);
    return this.drop(DropReason.TYPE_NOT_ACCEPTED, parsed, ingressPort);
  }

  /** TrackNodeLoad: false when the report is stale or replayed (nothing is written then). */
  private trackNodeLoad(nodeId: number, bytes: Buffer, now: number): boolean {
    const sequence = bytes.readUInt32BE(ES.sequence);
    const hasReported = this.lastReportClock.read(nodeId) !== 0;
    if (hasReported && !isNewerSequence(sequence, this.lastSequence.read(nodeId))) return false;
    const clock = wrap(this.reportClock.read(0) + 1, CLOCK_MODULUS);
    this.reportClock.write(0, clock);
    const cpuLoadBp = bytes.readUInt16BE(ES.cpuLoadBp);
    const memLoadBp = bytes.readUInt16BE(ES.memLoadBp);
    const inflightRequests = bytes.readUInt16BE(ES.inflightRequests);
    this.cpuLoad.write(nodeId, cpuLoadBp);
    this.memLoad.write(nodeId, memLoadBp);
    this.inflight.write(nodeId, inflightRequests);
    this.lastSequence.write(nodeId, sequence);
    this.lastReportClock.write(nodeId, clock);
    this.lastSeenUs.write(nodeId, now);
    const isOverloaded = Math.max(cpuLoadBp, memLoadBp) >= this.policy().loadHighBp;
    const streak = isOverloaded ? Math.min(this.overloadStreak.read(nodeId) + 1, STREAK_MAX) : 0;
    this.overloadStreak.write(nodeId, streak);
    this.emit({
      kind: 'metrics',
      nodeId,
      sequence,
      cpuLoadBp,
      memLoadBp,
      inflightRequests,
      overloadStreak: streak,
    });
    return true;
  }

  private decideOffloadAdvice(
    nodeId: number,
    nodeParams: ActionParams,
    parsed: ParsedFrame,
    ingressPort: number,
    now: number,
  ): PipelineOutput[] {
    const policy = this.policy();
    const peer = nodeParams.peer_node_id ?? 0;
    const serviceId = nodeParams.offload_service_id ?? 0;
    const shouldAdvise =
      this.overloadStreak.read(nodeId) >= policy.overloadReports &&
      peer !== 0 &&
      this.isLive(peer, now) &&
      this.load(peer) <= policy.loadLowBp &&
      serviceId !== 0 &&
      this.serviceOwner.read(serviceId) === nodeId;
    // A report that does not lead to advice is consumed: dropped, but not a drop reason.
    if (!shouldAdvise) return NO_OUTPUT;
    this.overloadStreak.write(nodeId, 0);
    const bytes = parsed.bytes;
    const epoch = this.serviceEpoch.read(serviceId);
    bytes[ES.type] = PacketType.ADVICE;
    bytes.writeUInt16BE(serviceId, ES.serviceId);
    bytes.writeUInt32BE(epoch, ES.epoch);
    bytes.writeUInt16BE(this.cpuLoad.read(peer), ES.cpuLoadBp);
    bytes.writeUInt16BE(this.memLoad.read(peer), ES.memLoadBp);
    bytes.writeUInt16BE(this.inflight.read(peer), ES.inflightRequests);
    bytes.writeUInt16BE(peer, ES.targetNodeId);
    this.emit({
      kind: 'advice',
      nodeId,
      serviceId,
      targetNodeId: peer,
      epoch,
      sequence: bytes.readUInt32BE(ES.sequence),
      nodeLoadBp: this.load(nodeId),
      targetLoadBp: this.load(peer),
    });
    return this.turnAround(parsed, ingressPort);
  }

  /** HandleClaim: the atomic cutover; one read-modify-write of owner and epoch. */
  private handleClaim(nodeId: number, parsed: ParsedFrame, ingressPort: number): PipelineOutput[] {
    const bytes = parsed.bytes;
    const serviceId = bytes.readUInt16BE(ES.serviceId);
    const epoch = bytes.readUInt32BE(ES.epoch);
    const isAccepted = epoch > this.serviceEpoch.read(serviceId);
    if (isAccepted) {
      this.serviceOwner.write(serviceId, nodeId);
      this.serviceEpoch.write(serviceId, epoch);
    }
    const ownerNodeId = this.serviceOwner.read(serviceId);
    const epochInForce = this.serviceEpoch.read(serviceId);
    bytes[ES.type] = isAccepted ? PacketType.CLAIM_ACCEPTED : PacketType.CLAIM_STALE;
    bytes.writeUInt16BE(ownerNodeId, ES.targetNodeId);
    bytes.writeUInt32BE(epochInForce, ES.epoch);
    this.emit({ kind: 'claim', nodeId, serviceId, epoch, isAccepted, ownerNodeId, epochInForce });
    return this.turnAround(parsed, ingressPort);
  }

  private steerRequest(
    parsed: ParsedFrame,
    ingressPort: number,
    action: string,
    params: ActionParams,
    now: number,
  ): PipelineOutput[] {
    const chosen = this.chooseNode(action, params, now);
    if (typeof chosen !== 'number') return this.drop(chosen.reason, parsed, ingressPort);
    const node = this.lookupNode(chosen);
    if (node === undefined) return this.drop(DropReason.NODE_NOT_IN_TABLE, parsed, ingressPort);
    const bytes = parsed.bytes;
    bytes.copy(bytes, FIELD.ethSrc, FIELD.ethDst, FIELD.ethDst + 6);
    bytes.writeUIntBE(node.mac_addr ?? 0, FIELD.ethDst, 6);
    bytes.writeUInt32BE(node.ipv4_addr ?? 0, FIELD.ipv4Dst);
    bytes.writeUInt16BE(0, FIELD.udpChecksum);
    decrementTtl(bytes);
    return this.emitFrame(parsed, node.port ?? 0);
  }

  /** node_table's parameters for `nodeId`; an entry with NoAction hits with all of them 0, as in the program. */
  private lookupNode(nodeId: number): ActionParams | undefined {
    const node = this.nodeTable.lookup([nodeId]);
    if (!node.hit) return undefined;
    return node.action === ACTION_NAMES.setNode ? node.params : {};
  }

  /** SteerRequest's choice; an entry with NoAction balances between nodes 0 and 0, as in the program. */
  private chooseNode(action: string, params: ActionParams, now: number): number | { reason: DropReasonCode } {
    const serviceId = params.service_id ?? 0;
    if (action === ACTION_NAMES.steerToOwner) {
      // The owner is chosen whether live or not: only a CLAIM moves a stateful service.
      const owner = this.serviceOwner.read(serviceId);
      return owner === 0 ? { reason: DropReason.NO_OWNER } : owner;
    }
    const nodeA = params.node_a ?? 0;
    const nodeB = params.node_b ?? 0;
    const isLiveA = this.isLive(nodeA, now);
    const isLiveB = this.isLive(nodeB, now);
    if (isLiveA && isLiveB) return this.load(nodeA) <= this.load(nodeB) ? nodeA : nodeB;
    if (isLiveA) return nodeA;
    if (isLiveB) return nodeB;
    return { reason: DropReason.NO_LIVE_NODE };
  }

  private forward(parsed: ParsedFrame, ingressPort: number): PipelineOutput[] {
    const bytes = parsed.bytes;
    const route = this.ipv4Lpm.lookup([bytes.readUInt32BE(FIELD.ipv4Dst)]);
    if (route.action !== ACTION_NAMES.ipv4Forward) return this.drop(DropReason.NO_ROUTE, parsed, ingressPort);
    bytes.copy(bytes, FIELD.ethSrc, FIELD.ethDst, FIELD.ethDst + 6);
    bytes.writeUIntBE(route.params.dst_mac ?? 0, FIELD.ethDst, 6);
    decrementTtl(bytes);
    return this.emitFrame(parsed, route.params.port ?? 0);
  }

  /** Swaps Ethernet, IPv4 and UDP addresses; back out of the ingress port; TTL unchanged. */
  private turnAround(parsed: ParsedFrame, ingressPort: number): PipelineOutput[] {
    const bytes = parsed.bytes;
    swap(bytes, FIELD.ethDst, FIELD.ethSrc, 6);
    swap(bytes, FIELD.ipv4Src, FIELD.ipv4Dst, 4);
    swap(bytes, FIELD.udpSrcPort, FIELD.udpDstPort, 2);
    bytes.writeUInt16BE(0, FIELD.udpChecksum);
    return this.emitFrame(parsed, ingressPort);
  }

  private emitFrame(parsed: ParsedFrame, port: number): PipelineOutput[] {
    if (port === BMV2_DROP_PORT) return NO_OUTPUT;
    return [{ port, frame: deparseFrame(parsed) }];
  }

  private drop(reason: DropReasonCode, parsed: ParsedFrame, ingressPort: number): PipelineOutput[] {
    this.dropReasons.count(reason, parsed.bytes.length);
    this.emit({ kind: 'drop', reason, ingressPort });
    return NO_OUTPUT;
  }

  /** policy_table's default action, re-read only when the table changed (it is read several times per packet). */
  private policy(): Policy {
    if (this.cachedPolicy !== undefined && this.cachedPolicyVersion === this.policyTable.version) {
      return this.cachedPolicy;
    }
    const params = this.policyTable.lookup([]).params;
    this.cachedPolicy = {
      loadHighBp: params.load_high_bp ?? 0,
      loadLowBp: params.load_low_bp ?? 0,
      overloadReports: params.overload_reports ?? 0,
      livenessReports: params.liveness_reports ?? 0,
      livenessTimeoutUs: params.liveness_timeout_us ?? 0,
    };
    this.cachedPolicyVersion = this.policyTable.version;
    return this.cachedPolicy;
  }

  /** load(n) = max(cpu, memory), in basis points. */
  load(nodeId: number): number {
    return Math.max(this.cpuLoad.read(nodeId), this.memLoad.read(nodeId));
  }

  /** live(n): reported within the last liveness_reports reports and, when set, within the timeout. */
  isLive(nodeId: number, now: number): boolean {
    const lastClock = this.lastReportClock.read(nodeId);
    if (lastClock === 0) return false;
    const policy = this.policy();
    const reportsAgo = wrap(this.reportClock.read(0) - lastClock, CLOCK_MODULUS);
    if (reportsAgo > policy.livenessReports) return false;
    if (policy.livenessTimeoutUs === 0) return true;
    return wrap(now - this.lastSeenUs.read(nodeId), TIMESTAMP_MODULUS) <= policy.livenessTimeoutUs;
  }

  /** Adds an observer of decisions (logs, tests); returns the function that removes it. */
  subscribe(listener: PipelineListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: PipelineEvent): void {
    if (this.listeners.size === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // An observer's failure must not change what the data plane does with the packet.
      }
    }
  }
}

function resolveKeyName(name: string, keyNames: readonly string[], table: string): string {
  if (keyNames.includes(name)) return name;
  const candidates = keyNames.filter((key) => key.endsWith(`.${name}`));
  if (candidates.length === 1) return candidates[0]!;
  throw new EdgeShiftError(
    'ERR_DATAPLANE_UNKNOWN_NAME',
    `table ${table} has no key field '${name}'; its keys are ${keyNames.join(', ') || '(none)'}`,
    { context: { kind: 'key', name } },
  );
}

function swap(bytes: Buffer, a: number, b: number, length: number): void {
  for (let i = 0; i < length; i += 1) {
    const first = bytes[a + i]!;
    bytes[a + i] = bytes[b + i]!;
    bytes[b + i] = first;
  }
}

/** TTL − 1 as bit<8> arithmetic: 0 wraps to 255, as BMv2 does without a guard in the program. */
function decrementTtl(bytes: Buffer): void {
  bytes[FIELD.ipv4Ttl] = (bytes[FIELD.ipv4Ttl]! + 255) % 256;
}
