// Runs one node monitor as a plain process, without Greengrass (local demo, data-plane tests, load
// profiles). Flags become a configuration checked by the same schema and rules as under Greengrass.
// Logs are JSON lines on stdout; SIGTERM/SIGINT close it cleanly. Example:
//   npx tsx scripts/run-monitor.ts --node-id 1 --data-plane 127.0.0.10:7700 --source-address 127.0.0.11 \
//     --synthetic '{"cpu":{"shape":"square","lowPercent":20,"highPercent":95,"periodMs":20000}}'
import { pathToFileURL } from 'node:url';

import { Command, CommanderError, InvalidArgumentError } from 'commander';

import { createLogger } from '../components/common/logger.ts';
import { NodeMonitor } from '../components/node-monitor/node-monitor.ts';
import {
  validateNodeMonitorConfig,
  type NodeMonitorConfig,
} from '../components/node-monitor/node-monitor-config.ts';

interface RunMonitorFlags {
  nodeId: number;
  dataPlane: string;
  sourceAddress?: string;
  sourcePort?: number;
  synthetic?: string;
  cgroup?: string;
  periodMs?: number;
  smoothingMs?: number;
  thingName?: string;
  adviceForward?: string;
  inflight?: number;
  printReports: boolean;
}

function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return Number(value);
}

/** "host:port", "[v6]:port" or a bare host (then `defaultPort`). */
export function parseEndpoint(value: string, defaultPort?: number): { address: string; port?: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(value) ?? /^([0-9a-fA-F:]+)$/.exec(value);
  const address = match?.[1] ?? match?.[2];
  if (match === null || address === undefined) {
    throw new InvalidArgumentError(`expected address:port, got "${value}"`);
  }
  const port = match[3] === undefined ? defaultPort : Number(match[3]);
  return port === undefined ? { address } : { address, port };
}

function parseSynthetic(json: string): Record<string, unknown> {
  let profile: unknown;
  try {
    profile = JSON.parse(json);
  } catch (err) {
    throw new InvalidArgumentError(`--synthetic is not JSON: ${String(err)}`);
  }
  if (typeof profile !== 'object' || profile === null || Array.isArray(profile)) {
    throw new InvalidArgumentError('--synthetic must be a JSON object {cpu: waveform, memory?: waveform}');
  }
  return { kind: 'synthetic', ...(profile as Record<string, unknown>) };
}

function sourceOf(flags: RunMonitorFlags): Record<string, unknown> {
  if (flags.synthetic !== undefined && flags.cgroup !== undefined) {
    throw new InvalidArgumentError('give at most one of --synthetic and --cgroup');
  }
  if (flags.synthetic !== undefined) return parseSynthetic(flags.synthetic);
  if (flags.cgroup !== undefined) return { kind: 'cgroup', path: flags.cgroup };
  return { kind: 'host' };
}

/** The validated configuration the flags describe (throws ERR_CONFIG_INVALID naming the field). */
export function configFromArgs(argv: readonly string[]): {
  config: NodeMonitorConfig;
  printReports: boolean;
} {
  const flags = new Command('run-monitor')
    .description('Run one EdgeShift node monitor without Greengrass')
    .requiredOption('--node-id <n>', 'node id, 1..15', integer)
    .option('--data-plane <address:port>', 'where METRICS go', '127.0.0.1:7700')
    .option(
      '--source-address <ip>',
      "send from this address (the node's address in the data plane's node_table)",
    )
    .option('--source-port <port>', 'send from this UDP port (default: a free one)', integer)
    .option('--synthetic <json>', 'synthetic load profile {"cpu": waveform, "memory"?: waveform}')
    .option('--cgroup <path>', 'measure this cgroup v2 directory instead of the host')
    .option('--period-ms <ms>', 'sampling period', integer)
    .option('--smoothing-ms <ms>', 'EWMA time constant (at least the period)', integer)
    .option('--thing-name <name>', 'thing name in local reports')
    .option(
      '--advice-forward <address:port>',
      'forward ADVICE from the data plane to this socket (the peer agent)',
    )
    .option('--inflight <n>', 'in-flight requests to announce', integer)
    .option('--print-reports', 'log every report as a JSON line', false)
    .exitOverride()
    .parse(argv, { from: 'user' })
    .opts<RunMonitorFlags>();
  const dataPlane = parseEndpoint(flags.dataPlane, 7700);
  const raw: Record<string, unknown> = {
    nodeId: flags.nodeId,
    source: sourceOf(flags),
    dataPlane: {
      ...dataPlane,
      ...(flags.sourceAddress === undefined ? {} : { sourceAddress: flags.sourceAddress }),
      ...(flags.sourcePort === undefined ? {} : { sourcePort: flags.sourcePort }),
    },
    publishLocalTopic: flags.printReports,
  };
  if (flags.periodMs !== undefined) raw.periodMs = flags.periodMs;
  raw.smoothingTimeConstantMs = flags.smoothingMs ?? Math.max(500, flags.periodMs ?? 0);
  if (flags.thingName !== undefined) raw.thingName = flags.thingName;
  if (flags.inflight !== undefined) raw.inflightRequests = flags.inflight;
  if (flags.adviceForward !== undefined) raw.adviceForward = parseEndpoint(flags.adviceForward);
  return { config: validateNodeMonitorConfig(raw), printReports: flags.printReports };
}

async function main(argv: readonly string[]): Promise<void> {
  const logger = createLogger('run-monitor');
  const { config, printReports } = configFromArgs(argv);
  const monitor = new NodeMonitor(config, {
    logger,
    ...(printReports
      ? { publishLocal: (topic, report) => Promise.resolve(logger.info('report', { topic, report })) }
      : {}),
  });
  await monitor.start();
  const stop = (): void => {
    monitor.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    // Commander has already printed its own usage errors and help.
    if (err instanceof CommanderError) process.exit(err.exitCode);
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(2);
  });
}
