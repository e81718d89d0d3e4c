// Command line for one local edge node: a LocalNucleus running the components of a recipe directory and an
// artifact directory (the greengrass-cli local deployment layout) until SIGTERM/SIGINT, then stopping them
// in reverse dependency order. Used by the demo and by hand; wraps scripts/local-nucleus/local-node.ts.
//   tsx scripts/local-node-cli.ts --recipe-dir artifacts/recipes --artifact-dir artifacts \
//     --root .edgeshift/node-a --thing-name node-a --merge '{"com.edgeshift.NodeMonitor":{"periodMs":200}}'
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Command, InvalidArgumentError } from 'commander';

import { createLogger } from '../components/common/logger.ts';
import { grantDebugAccess } from './cli/debug-access.ts';
import { LocalNode } from './local-nucleus/local-node.ts';

const log = createLogger('local-node-cli');

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** --merge: a JSON object keyed by component name, each value the merge object for that component. */
export function parseMerge(text: string): Record<string, Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`not JSON: ${(err as Error).message}`);
  }
  if (!isRecord(parsed)) throw new InvalidArgumentError('must be a JSON object {"ComponentName": {...}}');
  for (const [name, merge] of Object.entries(parsed)) {
    if (!isRecord(merge)) throw new InvalidArgumentError(`the merge for ${name} must be a JSON object`);
  }
  return parsed as Record<string, Record<string, unknown>>;
}

async function main(argv: readonly string[]): Promise<void> {
  const program = new Command()
    .name('local-node')
    .description('Run EdgeShift components from recipes on a local nucleus (no Greengrass needed).')
    .requiredOption('--recipe-dir <dir>', 'directory of component recipes (YAML or JSON)')
    .requiredOption('--artifact-dir <dir>', 'directory laid out as <ComponentName>/<version>/<file>')
    .option('--root <dir>', 'nucleus root: packages, logs, work and the IPC socket', '.edgeshift/local-node')
    .option('--thing-name <name>', 'AWS_IOT_THING_NAME given to the components', 'edgeshift-local')
    .option('--merge <json>', 'configuration merge per component: {"ComponentName": {...}}', parseMerge)
    .option('--mqtt-broker-url <url>', 'MQTT broker that stands in for AWS IoT Core (mqtt://127.0.0.1:1883)')
    .option('--region <region>', 'AWS_REGION given to the components', 'us-east-1')
    .option('--component <name...>', 'run only these components of the recipe directory')
    .parse(argv);
  const options = program.opts<{
    recipeDir: string;
    artifactDir: string;
    root: string;
    thingName: string;
    merge?: Record<string, Record<string, unknown>>;
    mqttBrokerUrl?: string;
    region: string;
    component?: string[];
  }>();
  const node = new LocalNode({
    recipeDir: path.resolve(options.recipeDir),
    artifactDir: path.resolve(options.artifactDir),
    rootPath: path.resolve(options.root),
    thingName: options.thingName,
    region: options.region,
    ...(options.merge === undefined ? {} : { merge: options.merge }),
    ...(options.mqttBrokerUrl === undefined ? {} : { mqttBrokerUrl: options.mqttBrokerUrl }),
    ...(options.component === undefined ? {} : { components: options.component }),
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('stopping local node', { signal });
    node.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('local node stopped with an error', { error: err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await node.start();
  // The node CLI's IPC access: `npm run cli -- --ipc <root>/debug-ipc.json status`.
  const debugAccess = await grantDebugAccess(node.nucleus, {
    rootPath: path.resolve(options.root),
    thingName: options.thingName,
  });
  log.info('local node running', {
    socketPath: node.nucleus.socketPath,
    debugIpc: debugAccess.filePath,
    components: node.componentNames,
    logs: path.join(path.resolve(options.root), 'logs'),
  });
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv).catch((err: unknown) => {
    log.error('local node failed', { error: err });
    process.exit(1);
  });
}
