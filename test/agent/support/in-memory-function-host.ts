// A test double of the function host port (FunctionHostControl) for the agent's unit tests, written
// because the real function host is built concurrently: an in-memory key-value state per service,
// snapshots in chunks, deltas since a mark, freeze/resume/handOver with request buffering and
// forwarding to another double, and epoch fencing. Requests are simulated by submit(); each double
// records what it processed, buffered and forwarded, so tests can count lost and duplicated requests.
import { createHash } from 'node:crypto';

import type { CutoverNotifier } from '../../../agent/cutover/cutover-notifier.ts';
import type {
  Activated,
  DirectCutover,
  Frozen,
  FunctionHostControl,
  FunctionHostRequest,
  FunctionHostResponses,
  FunctionRole,
  FunctionSummary,
  HandOverOnNotice,
  UdpAddress,
} from '../../../components/function-host/function-host-api.ts';

export interface SimulatedRequest {
  readonly id: string;
  readonly key: string;
}

type Op = FunctionHostRequest['op'];
type Fault = (request: FunctionHostRequest) => Promise<void> | void;

interface ServiceSim {
  readonly service: string;
  readonly serviceId: number;
  readonly isStateful: boolean;
  role: FunctionRole;
  epoch: number;
  state: Map<string, Buffer>;
  dirty?: Set<string>;
  exportChunks?: Buffer[];
  importParts: Buffer[];
  isImportParsed: boolean;
  buffered: SimulatedRequest[];
  forwardTo?: UdpAddress;
  /** Given with freeze: the notice that ends the freeze, and the count it forwarded. */
  notice?: HandOverOnNotice;
  handedOver?: number;
  route?: { owner: UdpAddress; epoch: number };
  /** Import: the old owner's fence came before the activation, which it refuses from then on. */
  isFenced?: boolean;
  /** Import: the direct hand-off key and epoch from beginImport, and the awaitActivation calls waiting. */
  handOff?: { key: string; epoch: number; migrationId: string } | undefined;
  activationWaiters: ((activated: Activated) => void)[];
  activated?: Activated;
}

const hostsByEndpoint = new Map<string, InMemoryFunctionHost>();

/** Delivers cutoverNotices to the double at the addressed endpoint, as UDP would. */
export const inMemoryNotifier: CutoverNotifier = {
  notify: (to, notice) =>
    hostsByEndpoint.get(endpointKey(to))?.receiveNotice(notice.service, notice.epoch, notice.token),
  close: () => Promise.resolve(),
};

function endpointKey(endpoint: UdpAddress): string {
  return endpoint.address; // one double per node address, whatever the service port
}

function encodeRecords(state: Map<string, Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const key of [...state.keys()].sort()) {
    const keyBytes = Buffer.from(key);
    const value = state.get(key) ?? Buffer.alloc(0);
    const header = Buffer.alloc(8);
    header.writeUInt32BE(keyBytes.length, 0);
    header.writeUInt32BE(value.length, 4);
    parts.push(header, keyBytes, value);
  }
  return Buffer.concat(parts);
}

function decodeRecords(bytes: Buffer): Map<string, Buffer> {
  const state = new Map<string, Buffer>();
  let offset = 0;
  while (offset < bytes.length) {
    const keyBytes = bytes.readUInt32BE(offset);
    const valueBytes = bytes.readUInt32BE(offset + 4);
    const key = bytes.subarray(offset + 8, offset + 8 + keyBytes).toString();
    state.set(key, Buffer.from(bytes.subarray(offset + 8 + keyBytes, offset + 8 + keyBytes + valueBytes)));
    offset += 8 + keyBytes + valueBytes;
  }
  return state;
}

export function stateChecksum(state: Map<string, Buffer>): string {
  return createHash('sha256').update(encodeRecords(state)).digest('hex');
}

export class InMemoryFunctionHost implements FunctionHostControl {
  readonly nodeName: string;
  readonly endpoint: UdpAddress;
  /** Every op called, in order. */
  readonly calls: Op[] = [];
  /** What each contestImport found out, in order. */
  readonly contests: string[] = [];
  /** The direct cutovers beginImport asked for, in order (this double never claims by itself). */
  readonly directCutovers: DirectCutover[] = [];
  /** Request ids processed here, in order. */
  readonly processed: string[] = [];
  readonly forwarded: string[] = [];
  /** Requests refused because this node neither owns nor forwards the service. */
  readonly refused: string[] = [];
  /** False once a test makes this node's function host unreachable to notices (a dead node). */
  acceptsNotices = true;
  /** False: direct hand-offs sent to this double are lost (the agents' TakeOver still carries the delta). */
  acceptsHandOffs = true;
  /** Activations a direct hand-off triggered (service@epoch). */
  readonly handOffActivations: string[] = [];
  /** Hand-overs a cutoverNotice triggered (service@epoch). */
  readonly noticeHandOvers: string[] = [];
  /** Run before an op is served: throw to fail it, never settle to hang it. */
  readonly faults: Partial<Record<Op, Fault>> = {};
  private readonly services = new Map<string, ServiceSim>();

  constructor(nodeName: string, endpoint: UdpAddress) {
    this.nodeName = nodeName;
    this.endpoint = endpoint;
    hostsByEndpoint.set(endpointKey(endpoint), this);
  }

  addService(options: {
    service: string;
    serviceId: number;
    isStateful: boolean;
    role: FunctionRole;
    epoch: number;
  }): void {
    this.services.set(options.service, {
      ...options,
      state: new Map(),
      importParts: [],
      isImportParsed: false,
      buffered: [],
      activationWaiters: [],
    });
  }

  /** Fills `keyCount` keys with values of `valueBytes` bytes (a large state without many requests). */
  fill(service: string, keyCount: number, valueBytes: number): void {
    const sim = this.sim(service);
    for (let index = 0; index < keyCount; index += 1) {
      sim.state.set(`fill-${index}`, Buffer.alloc(valueBytes, index % 251));
    }
  }

  role(service: string): FunctionRole {
    return this.sim(service).role;
  }

  epoch(service: string): number {
    return this.sim(service).epoch;
  }

  checksum(service: string): string {
    return stateChecksum(this.sim(service).state);
  }

  stateSize(service: string): number {
    return this.sim(service).state.size;
  }

  bufferedCount(service: string): number {
    return this.sim(service).buffered.length;
  }

  routeOf(service: string): { owner: UdpAddress; epoch: number } | undefined {
    return this.sim(service).route;
  }

  /** A cutoverNotice arriving on the request path: hands over when the freeze expects it. */
  receiveNotice(service: string, epoch: number, token: string): void {
    const sim = this.sim(service);
    const expected = sim.notice;
    if (
      !this.acceptsNotices ||
      sim.role !== 'frozen' ||
      expected?.epoch !== epoch ||
      expected.token !== token
    )
      return;
    this.handOver(sim, expected.newOwner);
    this.noticeHandOvers.push(`${service}@${epoch}`);
  }

  /**
   * A direct hand-off arriving on the request path: activates the import it was sealed for, as the
   * function host does, through its own activate (faults included) with the source's checksum.
   */
  receiveHandOff(service: string, key: string, epoch: number, frozen: Frozen): void {
    const sim = this.sim(service);
    const expected = sim.handOff;
    if (
      !this.acceptsHandOffs ||
      sim.role !== 'importing' ||
      expected?.key !== key ||
      expected.epoch !== epoch
    )
      return;
    const { migrationId } = expected;
    const delta = frozen.finalDelta;
    this.call(
      {
        op: 'activate',
        service,
        migrationId,
        epoch,
        ...(delta === undefined ? {} : { delta }),
        expectedStateChecksum: frozen.stateChecksum,
      },
      0,
    ).then(
      () => this.handOffActivations.push(`${service}@${epoch}`),
      () => undefined, // as the function host: the agents' TakeOver carries the same delta
    );
  }

  /**
   * The old owner's fence question, as the function host answers it: 'activated' when the import is
   * active at that epoch (its state is then kept), else 'fenced' and no activation from then on.
   */
  answerFence(
    service: string,
    migrationId: string,
    epoch: number,
    key: string,
  ): 'activated' | 'fenced' | undefined {
    const sim = this.sim(service);
    const expected = sim.handOff;
    if (expected?.key !== key || expected.migrationId !== migrationId || expected.epoch !== epoch)
      return undefined;
    if (sim.activated?.epoch === epoch) return 'activated';
    sim.isFenced = true;
    return 'fenced';
  }

  /** A request arriving on the request path. */
  submit(service: string, request: SimulatedRequest): void {
    const sim = this.sim(service);
    switch (sim.role) {
      case 'owner':
        return this.process(sim, request);
      case 'frozen':
        sim.buffered.push(request);
        return;
      case 'forwarding':
        return this.forward(sim, request);
      default:
        this.refused.push(request.id);
    }
  }

  async call<O extends Op>(
    request: Extract<FunctionHostRequest, { op: O }>,
    _timeoutMs: number,
  ): Promise<FunctionHostResponses[O]> {
    this.calls.push(request.op);
    // An activate of what is already active answers from memory, as the function host does: no fault.
    if (!this.isActiveAt(request)) await this.faults[request.op]?.(request);
    if (request.op === 'awaitActivation') {
      const sim = this.sim((request as Extract<FunctionHostRequest, { op: 'awaitActivation' }>).service);
      const { waitMs } = request as Extract<FunctionHostRequest, { op: 'awaitActivation' }>;
      if (sim.role === 'owner' && sim.activated !== undefined)
        return { activated: sim.activated } as FunctionHostResponses[O];
      return new Promise<FunctionHostResponses['awaitActivation']>((resolve) => {
        const waiter = (activated: Activated): void => resolve({ activated });
        sim.activationWaiters.push(waiter);
        setTimeout(() => {
          sim.activationWaiters = sim.activationWaiters.filter((other) => other !== waiter);
          resolve({});
        }, waitMs).unref();
      }) as Promise<FunctionHostResponses[O]>;
    }
    return this.serve(request) as FunctionHostResponses[O];
  }

  private serve(request: FunctionHostRequest): FunctionHostResponses[Op] {
    if (request.op === 'listFunctions') return [...this.services.values()].map((sim) => this.summary(sim));
    if (request.op === 'openControlChannel')
      throw new Error('the in-memory double serves no control channel');
    const sim = this.sim(request.service);
    switch (request.op) {
      case 'beginExport': {
        const bytes = encodeRecords(sim.state);
        sim.exportChunks = [];
        for (let offset = 0; offset < bytes.length || offset === 0; offset += request.chunkBytes) {
          sim.exportChunks.push(bytes.subarray(offset, offset + request.chunkBytes));
          if (bytes.length === 0) break;
        }
        sim.dirty = new Set();
        return {
          chunkCount: sim.exportChunks.length,
          snapshotBytes: bytes.length,
          stateChecksum: stateChecksum(sim.state),
        };
      }
      case 'readExportChunk': {
        const data = sim.exportChunks?.[request.index];
        if (data === undefined) throw new Error(`no export chunk ${request.index}`);
        return { index: request.index, data, isLast: request.index === (sim.exportChunks?.length ?? 0) - 1 };
      }
      case 'nextDelta':
        return takeDelta(sim);
      case 'freeze': {
        sim.role = 'frozen';
        sim.notice = request.handOverOnNotice;
        const state = { bufferedRequests: sim.buffered.length, stateChecksum: stateChecksum(sim.state) };
        const frozen: Frozen =
          sim.dirty === undefined ? state : { ...state, finalDelta: takeDelta(sim).delta };
        const { notice } = sim;
        const key = request.handOffKey;
        if (notice !== undefined && key !== undefined) {
          // Over "UDP": after this call returns, and straight to the new owner.
          setImmediate(() =>
            hostsByEndpoint
              .get(endpointKey(notice.newOwner))
              ?.receiveHandOff(sim.service, key, notice.epoch, frozen),
          );
        }
        return frozen;
      }
      case 'beginImport':
        if (request.directCutover !== undefined) this.directCutovers.push(request.directCutover);
        sim.role = 'importing';
        sim.isFenced = false;
        sim.handOff =
          request.handOffKey === undefined
            ? undefined
            : { key: request.handOffKey, epoch: request.epoch, migrationId: request.migrationId };
        sim.activated = undefined;
        sim.state = new Map();
        sim.importParts = [];
        sim.isImportParsed = false;
        return {};
      case 'importChunk':
        if (request.index !== sim.importParts.length) throw new Error(`chunk ${request.index} out of order`);
        sim.importParts.push(Buffer.from(request.data));
        return {};
      case 'importDelta':
        this.parseImport(sim);
        if (request.delta.byteLength > 0) this.applyDelta(sim, request.delta);
        return {};
      case 'activate':
        if (this.isActiveAt(request)) return { stateChecksum: stateChecksum(sim.state), epoch: sim.epoch };
        if (sim.isFenced === true) throw new Error('the old owner fenced this import');
        return this.activate(sim, request.epoch, request.delta, request.expectedStateChecksum);
      case 'contestImport': {
        const target = hostsByEndpoint.get(endpointKey(request.newOwner));
        const outcome = target?.answerFence(
          request.service,
          request.migrationId,
          request.epoch,
          request.handOffKey,
        );
        this.contests.push(outcome ?? 'unknown');
        return { outcome: outcome ?? 'unknown' };
      }
      case 'awaitActivation':
        throw new Error('awaitActivation is answered by call()');
      case 'handOver': {
        if (sim.role === 'forwarding' && sim.handedOver !== undefined)
          return { forwardedRequests: sim.handedOver, frozenMs: 0 };
        if (request.epoch <= sim.epoch) throw new Error(`handOver at epoch ${request.epoch} <= ${sim.epoch}`);
        return { forwardedRequests: this.handOver(sim, request.newOwner), frozenMs: 0 };
      }
      case 'resume': {
        sim.role = 'owner';
        sim.notice = undefined;
        if (request.epoch !== undefined && request.epoch > sim.epoch) sim.epoch = request.epoch;
        const buffered = sim.buffered.splice(0);
        for (const item of buffered) this.process(sim, item);
        return { processedBufferedRequests: buffered.length };
      }
      case 'dropState':
        sim.state = new Map();
        sim.importParts = [];
        if (sim.role !== 'forwarding') sim.role = 'standby';
        return {};
      case 'setRoute':
        sim.route = { owner: request.owner, epoch: request.epoch };
        return {};
      case 'standDown':
        sim.state = new Map();
        sim.role = 'standby';
        sim.epoch = request.epoch;
        return {};
    }
  }

  private isActiveAt(request: FunctionHostRequest): boolean {
    if (request.op !== 'activate') return false;
    const sim = this.sim(request.service);
    return sim.role === 'owner' && sim.epoch === request.epoch;
  }

  private activate(
    sim: ServiceSim,
    epoch: number,
    delta: Uint8Array | undefined,
    expectedStateChecksum: string | undefined,
  ): Activated {
    this.parseImport(sim);
    if (delta !== undefined && delta.byteLength > 0) this.applyDelta(sim, delta);
    if (expectedStateChecksum !== undefined && stateChecksum(sim.state) !== expectedStateChecksum)
      throw new Error('the imported state differs from the checksum the source froze');
    sim.role = 'owner';
    sim.epoch = epoch;
    const activated = { stateChecksum: stateChecksum(sim.state), epoch };
    sim.activated = activated;
    for (const resolve of sim.activationWaiters.splice(0)) resolve(activated);
    return activated;
  }

  private process(sim: ServiceSim, request: SimulatedRequest): void {
    this.processed.push(request.id);
    if (!sim.isStateful) return;
    const count = (sim.state.get(request.key)?.readUInt32BE(0) ?? 0) + 1;
    const value = Buffer.alloc(4);
    value.writeUInt32BE(count, 0);
    sim.state.set(request.key, value);
    sim.dirty?.add(request.key);
  }

  private handOver(sim: ServiceSim, newOwner: UdpAddress): number {
    sim.role = 'forwarding';
    sim.forwardTo = newOwner;
    sim.notice = undefined;
    const buffered = sim.buffered.splice(0);
    for (const item of buffered) this.forward(sim, item);
    sim.handedOver = buffered.length;
    return buffered.length;
  }

  private forward(sim: ServiceSim, request: SimulatedRequest): void {
    this.forwarded.push(request.id);
    const next = sim.forwardTo === undefined ? undefined : hostsByEndpoint.get(endpointKey(sim.forwardTo));
    next?.submit(sim.service, request);
  }

  private parseImport(sim: ServiceSim): void {
    if (sim.isImportParsed) return;
    sim.state = decodeRecords(Buffer.concat(sim.importParts));
    sim.importParts = [];
    sim.isImportParsed = true;
  }

  private applyDelta(sim: ServiceSim, delta: Uint8Array): void {
    const parsed = JSON.parse(Buffer.from(delta).toString()) as {
      puts: Record<string, string>;
      deletes: string[];
    };
    for (const [key, value] of Object.entries(parsed.puts)) sim.state.set(key, Buffer.from(value, 'base64'));
    for (const key of parsed.deletes) sim.state.delete(key);
  }

  private summary(sim: ServiceSim): FunctionSummary {
    return {
      service: sim.service,
      serviceId: sim.serviceId,
      isStateful: sim.isStateful,
      role: sim.role,
      epoch: sim.epoch,
      stateKeys: sim.state.size,
      stateBytes: [...sim.state].reduce((sum, [key, value]) => sum + 8 + key.length + value.length, 0),
      processedRequests: this.processed.length,
      bufferedRequests: sim.buffered.length,
    };
  }

  private sim(service: string): ServiceSim {
    const sim = this.services.get(service);
    if (sim === undefined) throw new Error(`${this.nodeName} has no service ${service}`);
    return sim;
  }
}

/** Changes since the last mark as JSON (puts in base64, deletes), then marks again. */
function takeDelta(sim: ServiceSim): { delta: Uint8Array; changedKeys: number } {
  const puts: Record<string, string> = {};
  const deletes: string[] = [];
  for (const key of sim.dirty ?? []) {
    const value = sim.state.get(key);
    if (value === undefined) deletes.push(key);
    else puts[key] = value.toString('base64');
  }
  sim.dirty = new Set();
  const changedKeys = Object.keys(puts).length + deletes.length;
  return {
    delta: changedKeys === 0 ? new Uint8Array(0) : Buffer.from(JSON.stringify({ puts, deletes })),
    changedKeys,
  };
}
