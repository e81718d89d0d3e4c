// The node monitor's configuration: its typed shape, the validator built from the JSON Schema kept
// with the recipe (recipes/schemas/com.edgeshift.NodeMonitor.schema.json) plus the cross-field rules
// the schema cannot say, and the sampler each `source` selects. Used by main.ts at start and on every
// configuration update, and by scripts/run-monitor.ts. Inner code only sees validated, frozen configs.
import schema from '../../recipes/schemas/com.edgeshift.NodeMonitor.schema.json' with { type: 'json' };
import {
  compileConfigValidator,
  type ConfigValidator,
  type CrossFieldRule,
} from '../common/config-validator.ts';
import { CgroupLoadSampler } from './cgroup-sampler.ts';
import { HostLoadSampler } from './host-sampler.ts';
import type { LoadSampler, MonotonicClock } from './load-sample.ts';
import { SyntheticLoadSampler, type SyntheticProfile, type Waveform } from './synthetic-sampler.ts';

export const NODE_MONITOR_COMPONENT = 'com.edgeshift.NodeMonitor';

export type LoadSourceConfig =
  | { readonly kind: 'host'; readonly procRoot?: string }
  | { readonly kind: 'cgroup'; readonly path: string }
  | ({ readonly kind: 'synthetic' } & SyntheticProfile);

export interface NodeMonitorConfig {
  readonly nodeId: number;
  readonly thingName?: string;
  readonly periodMs: number;
  readonly smoothingTimeConstantMs: number;
  readonly source: LoadSourceConfig;
  readonly dataPlane: {
    readonly address: string;
    readonly port: number;
    /** The node's address in the data plane's node_table: reports are authenticated by source. */
    readonly sourceAddress?: string;
    readonly sourcePort?: number;
  };
  /** The peer agent's data-plane socket, to which ADVICE returned to the monitor is forwarded. */
  readonly adviceForward?: { readonly address: string; readonly port: number };
  readonly publishLocalTopic: boolean;
  readonly inflightRequests: number;
  readonly inflightTopic?: string;
}

function waveformsOf(source: LoadSourceConfig): readonly [string, Waveform][] {
  if (source.kind !== 'synthetic') return [];
  const named: [string, Waveform][] = [['/source/cpu', source.cpu]];
  if (source.memory !== undefined) named.push(['/source/memory', source.memory]);
  return named;
}

/** Rules across fields, checked after the schema (also passed to the component runtime). */
export const NODE_MONITOR_CONFIG_RULES: readonly CrossFieldRule<NodeMonitorConfig>[] = [
  (config) =>
    config.smoothingTimeConstantMs < config.periodMs
      ? `/smoothingTimeConstantMs ${config.smoothingTimeConstantMs} must be at least /periodMs ${config.periodMs}`
      : undefined,
  (config) => {
    for (const [path, waveform] of waveformsOf(config.source)) {
      if (waveform.shape === 'ramp' || waveform.shape === 'steps' || waveform.shape === 'constant') continue;
      if (waveform.shape === 'square' && waveform.lowPercent > waveform.highPercent) {
        return `${path}/lowPercent ${waveform.lowPercent} must not exceed highPercent ${waveform.highPercent}`;
      }
      if (waveform.periodMs < config.periodMs) {
        return `${path}/periodMs ${waveform.periodMs} is shorter than /periodMs ${config.periodMs}: the waveform would alias`;
      }
    }
    return undefined;
  },
];

export const validateNodeMonitorConfig: ConfigValidator<NodeMonitorConfig> =
  compileConfigValidator<NodeMonitorConfig>(NODE_MONITOR_COMPONENT, schema, NODE_MONITOR_CONFIG_RULES);

/** The thing name the local topic is named after: configured, else the nucleus's, else one from the node id. */
export function resolveThingName(config: NodeMonitorConfig, env: NodeJS.ProcessEnv = process.env): string {
  return config.thingName ?? env.AWS_IOT_THING_NAME ?? `edgeshift-node-${config.nodeId}`;
}

export function createSampler(source: LoadSourceConfig, clock: MonotonicClock): LoadSampler {
  switch (source.kind) {
    case 'host':
      return new HostLoadSampler(source.procRoot);
    case 'cgroup':
      return new CgroupLoadSampler(source.path, { clock });
    case 'synthetic':
      return new SyntheticLoadSampler(source, clock);
  }
}
