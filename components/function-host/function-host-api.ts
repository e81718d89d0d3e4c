// The contract between the function host component and the peer agent: the control operations the
// function host serves over Greengrass local pub/sub (request/response topics, see
// components/common/ipc/) and the payload of each. The agent reaches the function host only through
// these; the function host calls the agent only to ask for a drain before it stops
// (components/common/agent-control-contract.ts). Bytes travel as Uint8Array (base64 on the IPC wire).

/** Local pub/sub topic on which a node's function host serves control requests. */
export function functionHostControlTopic(thingName: string): string {
  return `edgeshift/function-host/${thingName}/control`;
}

/** Local pub/sub topic on which a node's function host publishes an InflightMessage (node monitor). */
export function functionHostInflightTopic(thingName: string): string {
  return `edgeshift/function-host/${thingName}/inflight`;
}

/** What the function host publishes every 100 ms for the node monitor (node-monitor/inflight-topic.ts). */
export interface InflightMessage {
  readonly inflightRequests: number;
  /** Present while the host drains before a stop: the node should take no new work. */
  readonly draining?: true;
}

export type FunctionRole =
  | 'owner' // processes requests for the service
  | 'frozen' // state fixed for export (source): buffers arrivals, or serves on mirroring its writes
  | 'forwarding' // lost ownership: forwards every arrival to the new owner, processes nothing
  | 'importing' // receiving a snapshot and deltas (target, before activation)
  | 'standby'; // holds no state for the service

export interface FunctionSummary {
  readonly service: string;
  readonly serviceId: number;
  readonly isStateful: boolean;
  readonly role: FunctionRole;
  readonly epoch: number;
  readonly stateKeys: number;
  readonly stateBytes: number;
  readonly processedRequests: number;
  readonly bufferedRequests: number;
}

export interface UdpAddress {
  readonly address: string;
  readonly port: number;
}

/**
 * Given with freeze: the new owner's agent may end the freeze itself, by a cutoverNotice datagram to
 * the service's port naming this epoch and token once its cutover is done (request-wire.ts).
 */
export interface HandOverOnNotice {
  /** 32 hex digits, random per migration; the old owner's agent hands it to the new owner's. */
  readonly token: string;
  readonly epoch: number;
  readonly newOwner: UdpAddress;
}

/**
 * The new owner's function host claims the service at the data plane itself once the direct hand-off
 * has activated it, and then tells the old owner's function host (direct-cutover.ts).
 */
export interface DirectCutover {
  /** Where the node's CLAIMs go: the data plane's EdgeShift control port, as the peer agent sends them. */
  readonly dataPlane: UdpAddress;
  /** This node's id in the data plane's tables. */
  readonly nodeNumber: number;
  /** The service's id in the data plane's tables. */
  readonly serviceId: number;
  /** The cutover notice the old owner's function host waits for: its token, and where to send it. */
  readonly notice: { readonly token: string; readonly to: UdpAddress };
  readonly claimTimeoutMs: number;
  readonly retransmitMs: number;
}

export interface MigrationRef {
  readonly service: string;
  readonly migrationId: string;
}

/** One request per operation; `op` names it on the wire. */
export type FunctionHostRequest =
  | { readonly op: 'listFunctions' }
  | ({ readonly op: 'beginExport'; readonly chunkBytes: number } & MigrationRef)
  | ({ readonly op: 'readExportChunk'; readonly index: number } & MigrationRef)
  | ({
      readonly op: 'nextDelta';
      /** Optional cap on the delta's size; changed keys beyond it stay for the next delta. */
      readonly maxBytes?: number;
    } & MigrationRef)
  | ({
      readonly op: 'freeze';
      readonly handOverOnNotice?: HandOverOnNotice;
      /**
       * With handOverOnNotice: also send the last delta, sealed under this key (hand-off-seal.ts),
       * straight to handOverOnNotice.newOwner, which activates on it without waiting for the agents;
       * and keep serving until the notice, each write mirrored there (state-mirror.ts).
       */
      readonly handOffKey?: string;
    } & MigrationRef)
  | ({
      readonly op: 'beginImport';
      readonly epoch: number;
      /** Accept the source's direct hand-off and mirrors sealed under this key (64 hex digits). */
      readonly handOffKey?: string;
      /** With handOffKey: once the hand-off has activated the import, claim the service from here. */
      readonly directCutover?: DirectCutover;
    } & MigrationRef)
  | ({ readonly op: 'importChunk'; readonly index: number; readonly data: Uint8Array } & MigrationRef)
  | ({ readonly op: 'importDelta'; readonly delta: Uint8Array } & MigrationRef)
  | ({
      readonly op: 'activate';
      readonly epoch: number;
      /** The source's last delta, imported before activation (all of it or, on bad data, nothing). */
      readonly delta?: Uint8Array;
      /** When given, a state that differs after the delta is refused and stays an import. */
      readonly expectedStateChecksum?: string;
    } & MigrationRef)
  /**
   * Answers once the import is activated (by activate, or by the source's direct hand-off), or after
   * `waitMs` without it: a long poll, so that the channel never sees a call outlive its deadline.
   */
  | ({ readonly op: 'awaitActivation'; readonly waitMs: number } & MigrationRef)
  /**
   * On the old owner, after a TakeOver that ended with no answer: asks the new owner's function host,
   * sealed under the move's hand-off key, whether it activated the import at `epoch`; when it had not,
   * it never will. 'unknown' when no answer came within `waitMs`.
   */
  | ({
      readonly op: 'contestImport';
      readonly epoch: number;
      readonly newOwner: UdpAddress;
      readonly handOffKey: string;
      readonly waitMs: number;
    } & MigrationRef)
  | ({ readonly op: 'handOver'; readonly epoch: number; readonly newOwner: UdpAddress } & MigrationRef)
  | ({
      readonly op: 'resume';
      /** The epoch the source took back at the data plane after an unclear cutover (newer only). */
      readonly epoch?: number;
    } & MigrationRef)
  | ({ readonly op: 'dropState' } & MigrationRef)
  /** An owner that another node has superseded (it restarted with a stale role): standby at `epoch`. */
  | { readonly op: 'standDown'; readonly service: string; readonly epoch: number }
  | { readonly op: 'setRoute'; readonly service: string; readonly owner: UdpAddress; readonly epoch: number }
  | { readonly op: 'openControlChannel' };

/** Where the control channel (control-channel.ts) listens, and the token a connection presents first. */
export interface ControlChannelInfo {
  readonly address: string;
  readonly port: number;
  readonly token: string;
}

export interface ExportStarted {
  /** Chunks of the snapshot taken at the mark; read each with readExportChunk. */
  readonly chunkCount: number;
  readonly snapshotBytes: number;
  readonly stateChecksum: string;
}

export interface ExportChunk {
  readonly index: number;
  readonly data: Uint8Array;
  readonly isLast: boolean;
}

export interface DeltaTaken {
  /** Changes since the previous mark (puts and deletes, plus the dedupe window's new entries). */
  readonly delta: Uint8Array;
  readonly changedKeys: number;
  /** Changed keys left out because of maxBytes (0 when the delta is complete). */
  readonly remainingKeys?: number;
}

export interface Frozen {
  readonly bufferedRequests: number;
  /** Checksum of the whole state at the freeze: the target's after importing finalDelta. */
  readonly stateChecksum: string;
  /** Changes since the last delta, taken at the freeze (absent when no export tracks changes). */
  readonly finalDelta?: Uint8Array;
}

export interface Activated {
  /** Checksum of the imported state; must equal the source's after its last delta. */
  readonly stateChecksum: string;
  /** The epoch it was activated at. */
  readonly epoch: number;
}

export interface HandedOver {
  /** Requests buffered during the freeze, now forwarded to the new owner. */
  readonly forwardedRequests: number;
  /**
   * From the freeze to the hand-over. Requests waited all of it, unless the source served through its
   * freeze (a direct hand-off of a stateful service): then each paid one round trip to the new owner.
   */
  readonly frozenMs: number;
}

export interface FunctionHostResponses {
  listFunctions: readonly FunctionSummary[];
  beginExport: ExportStarted;
  readExportChunk: ExportChunk;
  nextDelta: DeltaTaken;
  freeze: Frozen;
  beginImport: Record<string, never>;
  importChunk: Record<string, never>;
  importDelta: Record<string, never>;
  activate: Activated;
  awaitActivation: { readonly activated?: Activated };
  contestImport: { readonly outcome: 'activated' | 'fenced' | 'unknown' };
  handOver: HandedOver;
  resume: { readonly processedBufferedRequests: number };
  dropState: Record<string, never>;
  standDown: Record<string, never>;
  setRoute: Record<string, never>;
  openControlChannel: ControlChannelInfo;
}

/** What the agent calls; implemented over IPC request/response by the function host's client. */
export interface FunctionHostControl {
  call<Op extends FunctionHostRequest['op']>(
    request: Extract<FunctionHostRequest, { op: Op }>,
    timeoutMs: number,
  ): Promise<FunctionHostResponses[Op]>;
}
