// The peer agent's configuration: the JSON Schema beside the recipe
// (recipes/schemas/com.edgeshift.PeerAgent.schema.json), the cross-field rules a schema cannot say,
// and the defaults of the optional groups (AGENT_DEFAULTS). main.ts validates once at start and on
// each update, then resolveAgentConfig() gives the agent a complete, frozen, typed object.
import { join } from 'node:path';

import {
  compileConfigValidator,
  type ConfigValidator,
  type CrossFieldRule,
} from '../components/common/config-validator.ts';
import schema from '../recipes/schemas/com.edgeshift.PeerAgent.schema.json' with { type: 'json' };
import type { CutoverKind } from './cutover/cutover-method.ts';
import type { PeerAgentSettings } from './peer-agent.ts';
import { checkPlacementThresholds, type PlacementThresholds } from './placement-policy.ts';

export const PEER_AGENT_COMPONENT = 'com.edgeshift.PeerAgent';

/** The configuration as validated by the schema (optional groups may be absent). */
export interface PeerAgentConfig {
  readonly nodeId: number;
  readonly nodeName?: string;
  readonly grpcListenAddress: string;
  readonly requestAddress?: string;
  readonly streamNice?: number;
  readonly peers: readonly {
    readonly nodeId: number;
    readonly nodeName: string;
    readonly thingName?: string;
    readonly grpcAddress: string;
  }[];
  readonly services: readonly {
    readonly name: string;
    readonly serviceId: number;
    readonly port: number;
    readonly cutover: CutoverKind;
  }[];
  readonly dataPlane: {
    readonly address: string;
    readonly port: number;
    readonly listenAddress?: string;
    readonly listenPort?: number;
  };
  readonly tls?: { readonly caCertPath: string; readonly certPath: string; readonly keyPath: string };
  readonly placement?: Partial<PlacementThresholds>;
  readonly migration?: Partial<
    Omit<PeerAgentSettings, 'timeouts' | 'completeForwardAttempts' | 'peerCallTimeoutMs'>
  > & {
    readonly timeouts?: Partial<PeerAgentSettings['timeouts']>;
  };
}

export const AGENT_DEFAULTS = {
  requestAddress: '127.0.0.1',
  // Measured on the two-node test bed (scripts/bench/README.md): a lower weight for the whole agent
  // cut the p99 during moves, but lengthened the freeze window; the stream alone is background work.
  streamNice: 10,
  dataPlaneListen: { address: '127.0.0.1', port: 7701 },
  placement: { highLoadBp: 8000, lowLoadBp: 5000, consecutiveSamples: 3, cooldownMs: 30_000 },
  settings: {
    chunkBytes: 256 * 1024,
    // Measured on the two-node test bed (npm run bench -- --only migration): a flat-out 64 MiB
    // transfer doubled request latency on both nodes; at 8 MiB/s the moves barely show.
    transferBytesPerSecond: 8 * 1024 * 1024,
    deltaThresholdBytes: 64 * 1024,
    quietDeltaRoundMs: 5,
    maxDeltaRounds: 5,
    directHandOff: true,
    completeForwardAttempts: 5,
    targetIdleTimeoutMs: 30_000,
    claimRetransmitMs: 100,
    peerCallTimeoutMs: 5_000,
    timeouts: {
      prepareMs: 5_000,
      transferMs: 600_000,
      deltaMs: 30_000,
      freezeMs: 5_000,
      activateMs: 60_000,
      cutoverMs: 3_000,
      handOverMs: 5_000,
      commitMs: 5_000,
      abortMs: 5_000,
      hostCallMs: 10_000,
    },
  },
} as const satisfies {
  requestAddress: string;
  streamNice: number;
  dataPlaneListen: { address: string; port: number };
  placement: PlacementThresholds;
  settings: PeerAgentSettings;
};

export interface ResolvedAgentConfig {
  readonly nodeName: string;
  readonly nodeNumber: number;
  readonly grpcListenAddress: string;
  readonly requestAddress: string;
  readonly streamNice: number;
  readonly peers: readonly {
    readonly nodeId: string;
    readonly nodeNumber: number;
    readonly grpcAddress: string;
  }[];
  readonly services: PeerAgentConfig['services'];
  readonly dataPlane: { readonly address: string; readonly port: number };
  readonly dataPlaneListen: { readonly address: string; readonly port: number };
  readonly tls: { readonly caCertPath: string; readonly certPath: string; readonly keyPath: string };
  readonly placement: PlacementThresholds;
  readonly settings: PeerAgentSettings;
}

function duplicates(values: readonly (string | number)[]): (string | number)[] {
  return values.filter((value, index) => values.indexOf(value) !== index);
}

export const PEER_AGENT_RULES: readonly CrossFieldRule<PeerAgentConfig>[] = [
  (config) => {
    const names = duplicates(config.services.map((service) => service.name));
    const ids = duplicates(config.services.map((service) => service.serviceId));
    if (names.length > 0) return `/services name '${names[0]}' appears twice`;
    if (ids.length > 0) return `/services serviceId ${ids[0]} appears twice`;
    return undefined;
  },
  (config) => {
    const ids = duplicates(config.peers.map((peer) => peer.nodeId));
    const names = duplicates(config.peers.map((peer) => peer.nodeName));
    if (ids.length > 0 || names.length > 0) return `/peers node ${ids[0] ?? names[0]} appears twice`;
    if (config.peers.some((peer) => peer.nodeId === config.nodeId))
      return `/peers lists this node's own nodeId ${config.nodeId}`;
    return undefined;
  },
  (config) =>
    config.placement === undefined
      ? undefined
      : checkPlacementThresholds({ ...AGENT_DEFAULTS.placement, ...config.placement }),
];

export function compilePeerAgentConfigValidator(): ConfigValidator<PeerAgentConfig> {
  return compileConfigValidator<PeerAgentConfig>(PEER_AGENT_COMPONENT, schema, PEER_AGENT_RULES);
}

export { schema as peerAgentSchema };

/** Fills the optional groups; `thingName` names the node when nodeName is absent. */
export function resolveAgentConfig(
  config: PeerAgentConfig,
  environment: { thingName: string; workDir: string },
): ResolvedAgentConfig {
  const nodeName = config.nodeName ?? (environment.thingName || `node-${config.nodeId}`);
  const tlsDir = join(environment.workDir, 'tls');
  const defaults = AGENT_DEFAULTS.settings;
  return Object.freeze({
    nodeName,
    nodeNumber: config.nodeId,
    grpcListenAddress: config.grpcListenAddress,
    requestAddress: config.requestAddress ?? AGENT_DEFAULTS.requestAddress,
    streamNice: config.streamNice ?? AGENT_DEFAULTS.streamNice,
    peers: config.peers.map((peer) => ({
      nodeId: peer.nodeName,
      nodeNumber: peer.nodeId,
      grpcAddress: peer.grpcAddress,
    })),
    services: config.services,
    dataPlane: { address: config.dataPlane.address, port: config.dataPlane.port },
    dataPlaneListen: {
      address: config.dataPlane.listenAddress ?? AGENT_DEFAULTS.dataPlaneListen.address,
      port: config.dataPlane.listenPort ?? AGENT_DEFAULTS.dataPlaneListen.port,
    },
    tls: config.tls ?? {
      caCertPath: join(tlsDir, 'ca.crt'),
      certPath: join(tlsDir, `${nodeName}.crt`),
      keyPath: join(tlsDir, `${nodeName}.key`),
    },
    placement: { ...AGENT_DEFAULTS.placement, ...config.placement },
    settings: {
      ...defaults,
      ...config.migration,
      timeouts: { ...defaults.timeouts, ...config.migration?.timeouts },
    },
  });
}
