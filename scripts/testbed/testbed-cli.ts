// Runs the two-node test bed (two-node-testbed.ts) until Ctrl-C: the reference data plane on local.yaml,
// node-a and node-b with the function host, peer agent and node monitor from their recipes. Prints the
// VIP targets and the log paths, so the load generator and the node CLI can be pointed at it.
//
//   npx tsx scripts/testbed/testbed-cli.ts --cutover in-network --admin-port 7780
//   npx tsx scripts/loadgen/cli.ts --target 127.0.0.100:9100 --service ingest --rate 300 --keys 60
import { pathToFileURL } from 'node:url';

import { Command, InvalidArgumentError, Option } from 'commander';

import type { CutoverKind } from '../../agent/cutover/cutover-method.ts';
import { NODE_NAMES, TESTBED_COMPONENTS, TwoNodeTestbed } from './two-node-testbed.ts';

function nonNegativeInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new InvalidArgumentError('must be a non-negative integer');
  return parsed;
}

interface CliOptions {
  readonly cutover: CutoverKind;
  readonly adminPort?: number;
  readonly paddingBytes: number;
  readonly prefillKeys: number;
  readonly root?: string;
}

export function buildCommand(): Command {
  return new Command('testbed')
    .description(
      'Run the two-node EdgeShift test bed on 127.0.0.10-12 (data plane, node-a, node-b) until Ctrl-C.',
    )
    .addOption(
      new Option('--cutover <option>', 'cutover option of sensor-stats')
        .choices(['in-network', 'reconfiguration'])
        .default('in-network'),
    )
    .option('--admin-port <port>', 'admin HTTP port of the data plane on 127.0.0.1', nonNegativeInteger)
    .option('--padding-bytes <n>', 'sensor-stats padding per sensor (state size)', nonNegativeInteger, 0)
    .option('--prefill-keys <n>', 'sensors sensor-stats fills at start', nonNegativeInteger, 0)
    .option('--root <dir>', 'working directory kept after exit (default: a temporary one, removed)');
}

export async function main(argv: readonly string[]): Promise<void> {
  const options = buildCommand()
    .parse([...argv], { from: 'user' })
    .opts<CliOptions>();
  const bed = await TwoNodeTestbed.start({
    cutover: options.cutover,
    sensorStatsOptions: { paddingBytesPerKey: options.paddingBytes, prefillKeys: options.prefillKeys },
    ...(options.adminPort === undefined ? {} : { adminPort: options.adminPort }),
    ...(options.root === undefined ? {} : { rootDir: options.root }),
  });
  const lines = [`test bed running (cutover ${bed.cutover}); Ctrl-C stops it`];
  for (const service of ['ingest', 'sensor-stats', 'alert']) {
    const { host, port } = bed.target(service);
    lines.push(`  ${service.padEnd(13)} ${host}:${port}`);
  }
  for (const name of NODE_NAMES) {
    for (const component of Object.values(TESTBED_COMPONENTS))
      lines.push(`  ${name} log ${bed.logPath(name, component)}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.stdout.write('stopping the test bed\n');
  await bed.close();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
