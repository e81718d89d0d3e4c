// Operator commands against the Greengrass v2 cloud API (AWS, or a local GreengrassCloudStub via
// --endpoint): `deploy` publishes the built recipes and deploys them to a core device, showing progress
// until the device reports; `reconfigure` revises the device's deployment with a configuration merge
// (change thresholds, drain a node, move a service) without touching its other components; `command`
// sends a control command to a node's peer agent over AWS IoT Core MQTT and prints its outcome.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { SingleBar, Presets } from 'cli-progress';
import { Command } from 'commander';
import mqtt from 'mqtt';

import { cloudCommandTopic, cloudEventTopic } from '../../agent/cloud-commands.ts';

import {
  createDeployment,
  createGreengrassClient,
  publishComponentVersions,
  reviseDeploymentConfiguration,
  waitForDeployment,
  type DeploymentStatus,
} from './cloud-deployment.ts';

const STATUS_STEP: Record<DeploymentStatus, number> = {
  QUEUED: 1,
  IN_PROGRESS: 2,
  SUCCEEDED: 3,
  COMPLETED: 3,
  FAILED: 3,
  TIMED_OUT: 3,
  CANCELED: 3,
  REJECTED: 3,
};

interface CommonOptions {
  region: string;
  endpoint?: string;
  account: string;
  thing: string;
  timeoutMs: string;
}

function parseJsonObject(text: string, flag: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${flag} must be a JSON object, got ${text}`);
  }
  return value as Record<string, unknown>;
}

async function waitWithProgress(
  client: ReturnType<typeof createGreengrassClient>,
  options: CommonOptions,
  deploymentId: string,
): Promise<void> {
  const bar = new SingleBar(
    { format: 'deployment {bar} {status}', hideCursor: true },
    Presets.shades_classic,
  );
  bar.start(3, 0, { status: 'CREATED' });
  try {
    const status = await waitForDeployment(client, {
      thingName: options.thing,
      deploymentId,
      timeoutMs: Number(options.timeoutMs),
      onStatus: (s) => bar.update(STATUS_STEP[s], { status: s }),
    });
    bar.update(3, { status });
  } finally {
    bar.stop();
  }
}

const program = new Command('edgeshift-cloud').description(
  'Deploy and reconfigure EdgeShift through Greengrass',
);
const common = (command: Command): Command =>
  command
    .requiredOption('--thing <name>', 'target core device (IoT thing name)')
    .option('--region <region>', 'AWS region', process.env.AWS_REGION ?? 'eu-central-1')
    .option('--endpoint <url>', 'Greengrass API endpoint (a local stub); default: AWS')
    .option(
      '--account <id>',
      'AWS account id for the thing ARN',
      process.env.AWS_ACCOUNT_ID ?? '123456789012',
    )
    .option('--timeout-ms <ms>', 'how long to wait for the device', '600000');

common(program.command('deploy'))
  .description('publish the recipes in --recipes-dir and deploy them to the device')
  .requiredOption('--recipes-dir <dir>', 'recipes with resolved artifact URIs (npm run build:artifacts)')
  .option('--merge <json>', 'per-component configuration merges: {"<component>": {...}}', '{}')
  .action(async (options: CommonOptions & { recipesDir: string; merge: string }) => {
    const client = createGreengrassClient(options);
    const files = (await readdir(options.recipesDir)).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
    const texts = await Promise.all(files.map((f) => readFile(join(options.recipesDir, f), 'utf8')));
    const refs = await publishComponentVersions(client, texts);
    const merges = parseJsonObject(options.merge, '--merge');
    const deploymentId = await createDeployment(client, {
      targetArn: `arn:aws:iot:${options.region}:${options.account}:thing/${options.thing}`,
      deploymentName: `edgeshift-${options.thing}`,
      components: Object.fromEntries(
        refs.map((ref) => {
          const merge = merges[ref.componentName];
          return [
            ref.componentName,
            {
              componentVersion: ref.componentVersion,
              ...(merge ? { merge: merge as Record<string, unknown> } : {}),
            },
          ];
        }),
      ),
    });
    console.log(
      `deployment ${deploymentId}: ${refs.map((r) => `${r.componentName}@${r.componentVersion}`).join(', ')}`,
    );
    await waitWithProgress(client, options, deploymentId);
  });

common(program.command('reconfigure'))
  .description("merge configuration into one component of the device's deployment")
  .requiredOption('--component <name>', 'component to reconfigure, e.g. com.edgeshift.PeerAgent')
  .requiredOption('--merge <json>', 'configuration to merge, e.g. {"placement":{"loadHighBp":9000}}')
  .action(async (options: CommonOptions & { component: string; merge: string }) => {
    const client = createGreengrassClient(options);
    const deploymentId = await reviseDeploymentConfiguration(client, {
      thingName: options.thing,
      targetArn: `arn:aws:iot:${options.region}:${options.account}:thing/${options.thing}`,
      componentName: options.component,
      merge: parseJsonObject(options.merge, '--merge'),
    });
    console.log(`deployment ${deploymentId}: ${options.component} merge ${options.merge}`);
    await waitWithProgress(client, options, deploymentId);
  });

program
  .command('command')
  .description("send a control command (status, migrate, pull) to a node's peer agent over AWS IoT Core MQTT")
  .requiredOption('--thing <name>', 'target core device (IoT thing name)')
  .requiredOption(
    '--broker <url>',
    'IoT Core endpoint, e.g. mqtts://<id>-ats.iot.<region>.amazonaws.com:8883',
  )
  .requiredOption(
    '--json <command>',
    'e.g. {"op":"migrate","service":"sensor-stats","targetNodeId":"node-b"}',
  )
  .option('--cert <file>', 'client certificate (IoT Core needs mutual TLS)')
  .option('--key <file>', 'client private key')
  .option('--ca <file>', 'Amazon root CA')
  .option('--timeout-ms <ms>', 'how long to wait for the outcome', '120000')
  .action(
    async (options: {
      thing: string;
      broker: string;
      json: string;
      cert?: string;
      key?: string;
      ca?: string;
      timeoutMs: string;
    }) => {
      const command = { requestId: crypto.randomUUID(), ...parseJsonObject(options.json, '--json') };
      const tls = {
        ...(options.cert ? { cert: await readFile(options.cert) } : {}),
        ...(options.key ? { key: await readFile(options.key) } : {}),
        ...(options.ca ? { ca: await readFile(options.ca) } : {}),
      };
      const client = await mqtt.connectAsync(options.broker, {
        clientId: `edgeshift-operator-${command.requestId}`,
        ...tls,
      });
      try {
        const outcome = new Promise<string>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`no outcome from ${options.thing} within ${options.timeoutMs} ms`)),
            Number(options.timeoutMs),
          );
          client.on('message', (_topic, payload) => {
            const text = payload.toString('utf8');
            if (!text.includes(command.requestId)) return;
            clearTimeout(timer);
            resolve(text);
          });
        });
        await client.subscribeAsync(cloudEventTopic(options.thing), { qos: 1 });
        await client.publishAsync(cloudCommandTopic(options.thing), JSON.stringify(command), { qos: 1 });
        console.log(await outcome);
      } finally {
        await client.endAsync();
      }
    },
  );

await program.parseAsync();
