// Deployment through the Greengrass v2 cloud API with the real @aws-sdk/client-greengrassv2: publish
// component versions from recipes, create (or revise) the deployment of a core device, and wait until
// the device reports an outcome. Pointed at AWS, or at GreengrassCloudStub with `endpoint`. Used by
// scripts/cloud/cloud-cli.ts (deploy, reconfigure) and the tests.
import {
  CreateComponentVersionCommand,
  CreateDeploymentCommand,
  GetDeploymentCommand,
  GreengrassV2Client,
  ListEffectiveDeploymentsCommand,
} from '@aws-sdk/client-greengrassv2';
import { parse as parseYaml } from 'yaml';

import { EdgeShiftError } from '../../components/common/errors.ts';

export interface ComponentRef {
  readonly componentName: string;
  readonly componentVersion: string;
}

export interface ComponentDeploymentSpec {
  readonly componentVersion: string;
  readonly merge?: Readonly<Record<string, unknown>>;
  readonly reset?: readonly string[];
}

export type DeploymentStatus =
  'QUEUED' | 'IN_PROGRESS' | 'SUCCEEDED' | 'COMPLETED' | 'FAILED' | 'TIMED_OUT' | 'CANCELED' | 'REJECTED';

export function createGreengrassClient(options: { region: string; endpoint?: string }): GreengrassV2Client {
  if (options.endpoint === undefined) return new GreengrassV2Client({ region: options.region });
  // A local stub has no IAM: any static credentials sign the request.
  return new GreengrassV2Client({
    region: options.region,
    endpoint: options.endpoint,
    credentials: { accessKeyId: 'AKIDLOCALSTUB', secretAccessKey: 'local-stub-secret' },
  });
}

function recipeRef(recipeText: string): ComponentRef {
  const recipe: unknown = parseYaml(recipeText);
  const name = (recipe as { ComponentName?: unknown } | null)?.ComponentName;
  const version = (recipe as { ComponentVersion?: unknown } | null)?.ComponentVersion;
  if (typeof name !== 'string' || typeof version !== 'string') {
    throw new EdgeShiftError(
      'ERR_DEPLOYMENT_BAD_RECIPE',
      'recipe has no ComponentName/ComponentVersion strings',
    );
  }
  return { componentName: name, componentVersion: version };
}

/** Creates each component version; one that already exists (ConflictException) is kept as it is. */
export async function publishComponentVersions(
  client: GreengrassV2Client,
  recipeTexts: readonly string[],
): Promise<ComponentRef[]> {
  const published: ComponentRef[] = [];
  for (const text of recipeTexts) {
    const ref = recipeRef(text);
    try {
      await client.send(new CreateComponentVersionCommand({ inlineRecipe: Buffer.from(text, 'utf8') }));
    } catch (err) {
      if ((err as { name?: unknown }).name !== 'ConflictException') throw err;
    }
    published.push(ref);
  }
  return published;
}

export async function createDeployment(
  client: GreengrassV2Client,
  options: {
    targetArn: string;
    deploymentName: string;
    components: Readonly<Record<string, ComponentDeploymentSpec>>;
  },
): Promise<string> {
  const components = Object.fromEntries(
    Object.entries(options.components).map(([name, spec]) => [
      name,
      {
        componentVersion: spec.componentVersion,
        ...(spec.merge || spec.reset
          ? {
              configurationUpdate: {
                ...(spec.merge ? { merge: JSON.stringify(spec.merge) } : {}),
                ...(spec.reset ? { reset: [...spec.reset] } : {}),
              },
            }
          : {}),
      },
    ]),
  );
  const result = await client.send(
    new CreateDeploymentCommand({
      targetArn: options.targetArn,
      deploymentName: options.deploymentName,
      components,
    }),
  );
  if (result.deploymentId === undefined) {
    throw new EdgeShiftError('ERR_DEPLOYMENT_FAILED', 'CreateDeployment returned no deploymentId');
  }
  return result.deploymentId;
}

/**
 * Revises the device's latest deployment with a configuration merge for one component, keeping every
 * other component (a new deployment replaces the previous one and would remove unlisted components).
 */
export async function reviseDeploymentConfiguration(
  client: GreengrassV2Client,
  options: { thingName: string; targetArn: string; componentName: string; merge: Record<string, unknown> },
): Promise<string> {
  const effective = await client.send(
    new ListEffectiveDeploymentsCommand({ coreDeviceThingName: options.thingName }),
  );
  const latestId = effective.effectiveDeployments?.at(-1)?.deploymentId;
  if (latestId === undefined) {
    throw new EdgeShiftError(
      'ERR_DEPLOYMENT_FAILED',
      `core device ${options.thingName} has no deployment to revise`,
      {
        context: { thing: options.thingName },
      },
    );
  }
  const latest = await client.send(new GetDeploymentCommand({ deploymentId: latestId }));
  const components: Record<string, ComponentDeploymentSpec> = {};
  for (const [name, spec] of Object.entries(latest.components ?? {})) {
    components[name] = { componentVersion: spec.componentVersion ?? '' };
  }
  const target = components[options.componentName];
  if (target === undefined) {
    throw new EdgeShiftError(
      'ERR_DEPLOYMENT_FAILED',
      `component ${options.componentName} is not deployed to ${options.thingName}`,
      {
        context: { thing: options.thingName, component: options.componentName },
      },
    );
  }
  components[options.componentName] = { ...target, merge: options.merge };
  return createDeployment(client, {
    targetArn: options.targetArn,
    deploymentName: `reconfigure ${options.componentName}`,
    components,
  });
}

/** Polls the device's execution status until it ends; rejects with the device's reason on failure. */
export async function waitForDeployment(
  client: GreengrassV2Client,
  options: {
    thingName: string;
    deploymentId: string;
    timeoutMs: number;
    pollIntervalMs?: number;
    onStatus?: (status: DeploymentStatus) => void;
  },
): Promise<DeploymentStatus> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const effective = await client.send(
      new ListEffectiveDeploymentsCommand({ coreDeviceThingName: options.thingName }),
    );
    const mine = effective.effectiveDeployments?.find((d) => d.deploymentId === options.deploymentId);
    const status: DeploymentStatus = mine?.coreDeviceExecutionStatus ?? 'QUEUED';
    options.onStatus?.(status);
    if (status === 'SUCCEEDED' || status === 'COMPLETED') return status;
    if (status === 'FAILED' || status === 'REJECTED' || status === 'CANCELED' || status === 'TIMED_OUT') {
      throw new EdgeShiftError(
        'ERR_DEPLOYMENT_FAILED',
        `deployment ${options.deploymentId} ${status}: ${mine?.reason ?? 'no reason given'}`,
        {
          context: { deploymentId: options.deploymentId, status },
        },
      );
    }
    if (Date.now() > deadline) {
      throw new EdgeShiftError(
        'ERR_DEPLOYMENT_TIMEOUT',
        `deployment ${options.deploymentId} still ${status} after ${options.timeoutMs} ms`,
        {
          context: { deploymentId: options.deploymentId, status },
        },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs ?? 1000));
  }
}
