// The embedded demo (`npm run demo`): on one machine, with no AWS account and no switch, it starts the
// reference data plane (p4/control-plane/local.yaml) and two node monitors with synthetic load, claims
// sensor-stats for node-a as its agent would, then prints the data plane's per-node loads once a second
// and every ADVICE and CLAIM decision it makes. Invariant: everything it started is closed before it returns.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { parse as parseYaml } from 'yaml';

import { claimHeader } from '../components/common/data-plane-claim.ts';
import { DataPlaneLink } from '../components/common/data-plane-link.ts';
import { createLogger, type LogLevel } from '../components/common/logger.ts';
import { NodeMonitor } from '../components/node-monitor/node-monitor.ts';
import { validateNodeMonitorConfig } from '../components/node-monitor/node-monitor-config.ts';
import type { Waveform } from '../components/node-monitor/synthetic-sampler.ts';
import {
  nodeByName,
  serviceByName,
  validateTopology,
  type Topology,
  type TopologyNode,
} from '../p4/control-plane/topology.ts';
import { EDGESHIFT_UDP_PORT } from '../p4/protocol/edgeshift-protocol.ts';
import type { PipelineEvent } from '../p4/reference/pipeline.ts';
import { startReferenceDataPlane } from '../p4/reference/reference-data-plane.ts';
import { labelsFromTopology } from '../p4/reference/switch-commands.ts';
import { parseAgentStatus, type AgentResultView } from './cli/agent-control.ts';
import { migrationResultLines } from './cli/commands/migrate.ts';
import { DataPlaneAdminClient } from './cli/data-plane-admin.ts';
import type { LoadReport } from './loadgen/load-generator.ts';

export const DEFAULT_TOPOLOGY_PATH = new URL('../p4/control-plane/local.yaml', import.meta.url);

export interface DemoOptions {
  readonly topology: Topology;
  /** 0 runs until `signal` aborts. */
  readonly durationMs: number;
  readonly summaryIntervalMs?: number;
  /** Where output lines go (default: stdout). */
  readonly write?: (line: string) => void;
  readonly json?: boolean;
  /** When the data plane advises node-a, node-b claims the service (epoch + 1) as its agent would. */
  readonly followAdvice?: boolean;
  readonly signal?: AbortSignal;
  readonly logLevel?: LogLevel;
}

export interface DemoResult {
  readonly advices: number;
  readonly claimsAccepted: number;
  readonly claimsStale: number;
  readonly reports: number;
}

/** node-a ramps from light to overloaded; node-b stays light (percent of one node's capacity). */
const LOAD_PROFILES: Readonly<Record<string, Waveform>> = {
  'node-a': { shape: 'ramp', fromPercent: 30, toPercent: 95, durationMs: 2000 },
  'node-b': { shape: 'constant', percent: 25 },
};
const MEMORY_PROFILE: Waveform = { shape: 'constant', percent: 40 };
const MONITOR_PERIOD_MS = 100;
const MONITOR_SMOOTHING_MS = 300;
const DEMO_SERVICE = 'sensor-stats';

/** Loads a topology file, optionally moving its 127.0.0.x addresses (not prefixes) to 127.<octet>.0.x. */
export async function loadDemoTopology(path: string | URL, loopbackOctet = 0): Promise<Topology> {
  const text = await readFile(path, 'utf8');
  const moved =
    loopbackOctet === 0 ? text : text.replace(/127\.0\.0\.(\d+)\b(?!\/)/g, `127.${loopbackOctet}.0.$1`);
  return validateTopology(parseYaml(moved), String(path));
}

function percent(bp: number): string {
  return `${(bp / 100).toFixed(1).padStart(5)}%`;
}

class DemoPrinter {
  private readonly startMs = Date.now();
  constructor(
    private readonly write: (line: string) => void,
    private readonly isJson: boolean,
  ) {}

  elapsed(): string {
    return `${((Date.now() - this.startMs) / 1000).toFixed(1).padStart(5)}s`;
  }

  event(kind: string, text: string, fields: Record<string, unknown>): void {
    if (this.isJson) {
      this.write(JSON.stringify({ elapsedMs: Date.now() - this.startMs, kind, ...fields }));
      return;
    }
    this.write(`${this.elapsed()}  ${text}`);
  }
}

async function printSummary(printer: DemoPrinter, admin: DataPlaneAdminClient): Promise<void> {
  const [nodes, services] = await Promise.all([admin.nodes(), admin.services()]);
  const nodeText = nodes
    .map(
      (node) =>
        `${node.name ?? `node ${node.nodeId}`} cpu ${percent(node.cpuLoadBp)} mem ${percent(node.memLoadBp)} ` +
        `${node.isLive ? 'live' : 'DOWN'} streak ${node.overloadStreak}`,
    )
    .join('  |  ');
  const owners = services
    .filter((service) => service.ownerNodeId !== 0)
    .map(
      (service) =>
        `${service.name ?? service.serviceId}@${service.ownerName ?? service.ownerNodeId}#${service.epoch}`,
    );
  printer.event('loads', `loads  ${nodeText}  |  owners ${owners.join(' ') || '-'}`, { nodes, services });
}

async function startMonitor(
  topology: Topology,
  node: TopologyNode,
  logLevel: LogLevel,
): Promise<NodeMonitor> {
  const config = validateNodeMonitorConfig({
    nodeId: node.id,
    thingName: node.name,
    periodMs: MONITOR_PERIOD_MS,
    smoothingTimeConstantMs: MONITOR_SMOOTHING_MS,
    source: {
      kind: 'synthetic',
      cpu: LOAD_PROFILES[node.name] ?? LOAD_PROFILES['node-b'],
      memory: MEMORY_PROFILE,
    },
    dataPlane: { address: topology.dataPlane.ipv4, port: EDGESHIFT_UDP_PORT, sourceAddress: node.ipv4 },
    publishLocalTopic: false,
  });
  const monitor = new NodeMonitor(config, {
    logger: createLogger(`monitor:${node.name}`, { level: logLevel }),
  });
  await monitor.start();
  return monitor;
}

/** Sends CLAIMs from a node's address, as the node's peer agent does at cutover. */
async function openClaimLink(
  topology: Topology,
  node: TopologyNode,
  logLevel: LogLevel,
): Promise<DataPlaneLink> {
  return DataPlaneLink.open({
    dataPlane: { address: topology.dataPlane.ipv4, port: EDGESHIFT_UDP_PORT },
    listen: { address: node.ipv4, port: 0 },
    log: createLogger(`agent:${node.name}`, { level: logLevel }),
  });
}

function claim(link: DataPlaneLink, nodeId: number, serviceId: number, epoch: number): Promise<void> {
  return link.send(claimHeader({ nodeId, serviceId, epoch, sequence: link.nextSequence(), targetNodeId: 0 }));
}

function untilDoneOrAborted(durationMs: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = durationMs > 0 ? setTimeout(done, durationMs) : undefined;
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** Runs the demo for `durationMs` (or until aborted) and returns what the data plane decided. */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { topology } = options;
  const logLevel = options.logLevel ?? 'error';
  const printer = new DemoPrinter(
    options.write ?? ((line) => process.stdout.write(line + '\n')),
    options.json === true,
  );
  const labels = labelsFromTopology(topology);
  const service = serviceByName(topology, DEMO_SERVICE);
  const nodeA = nodeByName(topology, 'node-a');
  const nodeB = nodeByName(topology, 'node-b');
  const counts = { advices: 0, claimsAccepted: 0, claimsStale: 0, reports: 0 };
  const closers: (() => Promise<void>)[] = [];
  try {
    const dataPlane = await startReferenceDataPlane({
      topology,
      adminPort: 0,
      logger: createLogger('reference-data-plane', { level: logLevel }),
    });
    closers.push(() => dataPlane.close());
    printer.event(
      'start',
      `reference data plane on ${topology.dataPlane.ipv4}:${EDGESHIFT_UDP_PORT}, admin ${dataPlane.admin?.url ?? '-'}`,
      {
        dataPlane: `${topology.dataPlane.ipv4}:${EDGESHIFT_UDP_PORT}`,
        admin: dataPlane.admin?.url,
      },
    );
    const links = new Map<number, DataPlaneLink>();
    for (const node of [nodeA, nodeB]) {
      const link = await openClaimLink(topology, node, logLevel);
      closers.push(() => link.close());
      links.set(node.id, link);
    }
    let hasFollowed = false;
    const onEvent = (event: PipelineEvent): void => {
      if (event.kind === 'metrics') {
        counts.reports += 1;
        return;
      }
      if (event.kind === 'advice') {
        counts.advices += 1;
        const from = labels.nodes.get(event.nodeId) ?? String(event.nodeId);
        const to = labels.nodes.get(event.targetNodeId) ?? String(event.targetNodeId);
        const serviceName = labels.services.get(event.serviceId) ?? String(event.serviceId);
        printer.event(
          'advice',
          `advice: ${from} overloaded (${percent(event.nodeLoadBp).trim()}) → offload ${serviceName} to ${to} (${percent(event.targetLoadBp).trim()})`,
          { ...event, node: from, target: to, service: serviceName },
        );
        const link = links.get(event.targetNodeId);
        if (options.followAdvice === false || hasFollowed || link === undefined) return;
        hasFollowed = true;
        void claim(link, event.targetNodeId, event.serviceId, event.epoch + 1);
        return;
      }
      if (event.kind === 'claim') {
        if (event.isAccepted) counts.claimsAccepted += 1;
        else counts.claimsStale += 1;
        const node = labels.nodes.get(event.nodeId) ?? String(event.nodeId);
        const serviceName = labels.services.get(event.serviceId) ?? String(event.serviceId);
        printer.event(
          'claim',
          `claim: ${node} claims ${serviceName} at epoch ${event.epoch} → ${event.isAccepted ? 'accepted' : `stale (epoch ${event.epochInForce} in force)`}`,
          { ...event, node, service: serviceName },
        );
      }
    };
    const unsubscribe = dataPlane.pipeline.subscribe(onEvent);
    closers.push(() => Promise.resolve(void unsubscribe()));
    const linkA = links.get(nodeA.id);
    if (linkA !== undefined) await claim(linkA, nodeA.id, service.id, 1);
    for (const node of [nodeA, nodeB]) {
      const monitor = await startMonitor(topology, node, logLevel);
      closers.push(() => monitor.close());
    }
    printer.event('monitors', `monitors: node-a ramps ${30}% → ${95}% CPU over 2 s, node-b stays at 25%`, {});
    const admin = new DataPlaneAdminClient(dataPlane.admin?.url);
    const summarize = (): Promise<void> =>
      printSummary(printer, admin).catch((err: unknown) =>
        printer.event('error', `error: ${err instanceof Error ? err.message : String(err)}`, {}),
      );
    let pendingSummary: Promise<void> = Promise.resolve();
    const summary = setInterval(() => {
      pendingSummary = pendingSummary.then(summarize);
    }, options.summaryIntervalMs ?? 1000);
    // Stop the timer, then let a summary in flight finish before the admin interface closes.
    closers.push(() => {
      clearInterval(summary);
      return pendingSummary;
    });
    await untilDoneOrAborted(options.durationMs, options.signal);
    await summarize();
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
  printer.event(
    'done',
    `done: ${counts.reports} reports, ${counts.advices} advice, ${counts.claimsAccepted} claims accepted, ${counts.claimsStale} stale`,
    { ...counts },
  );
  return counts;
}

export interface FullDemoOptions {
  /** Length of the load run; the overload starts 2 s in. */
  readonly durationMs: number;
  readonly plotPath: string;
  readonly write?: (line: string) => void;
  readonly json?: boolean;
  readonly signal?: AbortSignal;
  readonly logLevel?: LogLevel;
}

export interface FullDemoResult {
  readonly advices: number;
  readonly migrations: readonly AgentResultView[];
  readonly lost: number;
  readonly duplicates: number;
  readonly wrongState: number;
}

const FULL_LOAD_RATE_HZ = 200;
const FULL_LOAD_KEYS = 60;
const OVERLOAD_AFTER_MS = 2000;

/**
 * The full demo: two local nodes (function host, peer agent, node monitor from their recipes), the data
 * plane and an open-loop load on ingest → sensor-stats. node-a's monitor is reconfigured to 95% CPU;
 * the data plane advises node-a, its agent moves sensor-stats to node-b (in-network CLAIM) under load.
 */
export async function runFullDemo(options: FullDemoOptions): Promise<FullDemoResult> {
  const logLevel = options.logLevel ?? 'error';
  const printer = new DemoPrinter(
    options.write ?? ((line) => process.stdout.write(line + '\n')),
    options.json === true,
  );
  printer.event('start', 'building the component artifacts and starting node-a and node-b (about 20 s)…', {});
  // Loaded here, not at the top: the minimal demo does not need them, and their module loggers read
  // EDGESHIFT_LOG_LEVEL when loaded (main sets it from --log-level first).
  const [
    { TwoNodeTestbed },
    { LoadGenerator },
    { counterStateChecker },
    { formatSummary },
    { renderLatencySvg },
  ] = await Promise.all([
    import('./testbed/two-node-testbed.ts'),
    import('./loadgen/load-generator.ts'),
    import('./loadgen/reply-checker.ts'),
    import('./loadgen/timeline-table.ts'),
    import('./plot/latency-plot.ts'),
  ]);
  const bed = await TwoNodeTestbed.start({
    adminPort: 0,
    sensorStatsOptions: { windowLength: 32, paddingBytesPerKey: 2048 },
    logger: createLogger('testbed', { level: logLevel }),
  });
  const counts = { advices: 0 };
  const labels = labelsFromTopology(bed.topology);
  try {
    const admin = new DataPlaneAdminClient(bed.dataPlane.adminUrl);
    const generator = new LoadGenerator({
      target: bed.target('ingest'),
      service: 'ingest',
      rateHz: FULL_LOAD_RATE_HZ,
      durationMs: options.durationMs,
      keyCount: FULL_LOAD_KEYS,
      replyDeadlineMs: 5000,
      checkState: counterStateChecker(),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const unsubscribe = await bed.dataPlane.subscribe((event) => {
      if (event.kind === 'advice') {
        counts.advices += 1;
        if (counts.advices === 1) generator.mark('first ADVICE');
        printer.event(
          'advice',
          `advice: ${labels.nodes.get(event.nodeId) ?? event.nodeId} overloaded (${percent(event.nodeLoadBp).trim()}) → offload ${labels.services.get(event.serviceId) ?? event.serviceId} to ${labels.nodes.get(event.targetNodeId) ?? event.targetNodeId}`,
          { ...event },
        );
      } else if (event.kind === 'claim') {
        const node = labels.nodes.get(event.nodeId) ?? String(event.nodeId);
        if (event.isAccepted) generator.mark(`CLAIM ${node}#${event.epoch}`);
        printer.event(
          'claim',
          `claim: ${node} claims ${labels.services.get(event.serviceId) ?? event.serviceId} at epoch ${event.epoch} → ${event.isAccepted ? 'accepted' : 'stale'}`,
          { ...event, node },
        );
      }
    });
    printer.event(
      'load',
      `load: ${FULL_LOAD_RATE_HZ} requests/s on ingest → sensor-stats for ${options.durationMs / 1000} s`,
      {},
    );
    const running = generator.run();
    const summary = setInterval(() => {
      void printSummary(printer, admin).catch(() => undefined);
    }, 1000);
    const overload = setTimeout(() => {
      printer.event('overload', "node-a's monitor now reports 95% CPU (configuration merge, no restart)", {});
      generator.mark('node-a at 95%');
      void bed
        .localNode('node-a')
        .nucleus.mergeConfiguration('com.edgeshift.NodeMonitor', {
          source: { kind: 'synthetic', cpu: { shape: 'constant', percent: 95 } },
        })
        .catch((err: unknown) => printer.event('error', `error: ${String(err)}`, {}));
    }, OVERLOAD_AFTER_MS);
    let report: LoadReport;
    try {
      report = await running;
    } finally {
      clearInterval(summary);
      clearTimeout(overload);
      unsubscribe();
    }
    const status = parseAgentStatus(await bed.agentStatus('node-a'));
    for (const result of status.lastResults) {
      for (const line of migrationResultLines(result)) printer.event('migration', line, {});
    }
    if (status.lastResults.length === 0) printer.event('migration', 'no migration happened', {});
    for (const line of formatSummary(report).split('\n')) printer.event('summary', line, {});
    await mkdir(path.dirname(options.plotPath), { recursive: true });
    await writeFile(
      options.plotPath,
      renderLatencySvg({
        buckets: report.buckets,
        bucketMs: report.bucketMs,
        markers: report.markers,
        title: `ingest → sensor-stats at ${FULL_LOAD_RATE_HZ} Hz while sensor-stats moves node-a → node-b`,
      }),
    );
    printer.event('plot', `latency plot: ${options.plotPath}`, { plotPath: options.plotPath });
    return {
      advices: counts.advices,
      migrations: status.lastResults,
      lost: report.totals.lost,
      duplicates: report.totals.duplicates,
      wrongState: report.totals.wrongState,
    };
  } finally {
    await bed.close();
  }
}

function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return Number(value);
}

async function main(argv: readonly string[]): Promise<void> {
  const flags = new Command('demo')
    .description(
      'EdgeShift embedded demo: the reference data plane and two node monitors with synthetic load on loopback; ' +
        'prints per-node loads once a second and every ADVICE and CLAIM',
    )
    .option('--duration-ms <ms>', 'how long to run (0 = until Ctrl-C)', integer, 20_000)
    .option(
      '--topology <yaml>',
      'topology with nodes node-a, node-b and service sensor-stats',
      DEFAULT_TOPOLOGY_PATH.pathname,
    )
    .option(
      '--loopback-octet <n>',
      'move 127.0.0.x addresses to 127.<n>.0.x (to run beside another demo)',
      integer,
      0,
    )
    .option('--no-follow-advice', 'do not let node-b claim the service when the data plane advises it')
    .option('--json', 'JSON lines instead of text', false)
    .option(
      '--full',
      'two full local nodes (function host, peer agent, monitor), load, and an ADVICE-triggered migration',
      false,
    )
    .option('--plot <file>', 'where --full writes the latency plot (SVG)', '.edgeshift/demo-latency.svg')
    .option(
      '--log-level <level>',
      'log level of the data plane and monitors (debug|info|warn|error|silent)',
      'error',
    )
    .exitOverride()
    .parse(argv, { from: 'user' })
    .opts<{
      durationMs: number;
      topology: string;
      loopbackOctet: number;
      followAdvice: boolean;
      json: boolean;
      logLevel: LogLevel;
      full: boolean;
      plot: string;
    }>();
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (flags.full) {
    process.env.EDGESHIFT_LOG_LEVEL ??= flags.logLevel;
    const result = await runFullDemo({
      durationMs: flags.durationMs === 0 ? 20_000 : flags.durationMs,
      plotPath: flags.plot,
      json: flags.json,
      logLevel: flags.logLevel,
      signal: abort.signal,
    });
    process.exitCode = result.migrations.some((m) => m.outcome === 'committed') ? 0 : 1;
    return;
  }
  const topology = await loadDemoTopology(flags.topology, flags.loopbackOctet);
  await runDemo({
    topology,
    durationMs: flags.durationMs,
    json: flags.json,
    followAdvice: flags.followAdvice,
    logLevel: flags.logLevel,
    signal: abort.signal,
  });
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    const code = (err as { code?: unknown }).code;
    console.error(
      `demo failed: ${err instanceof Error ? err.message : String(err)}${typeof code === 'string' ? ` (${code})` : ''}`,
    );
    process.exit(1);
  });
}
