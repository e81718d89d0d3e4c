import assert from 'node:assert/strict';

import { ListComponentsCommand, type GreengrassV2Client } from '@aws-sdk/client-greengrassv2';

import {
  createDeployment,
  createGreengrassClient,
  publishComponentVersions,
  reviseDeploymentConfiguration,
  waitForDeployment,
} from '../../../scripts/cloud/cloud-deployment.ts';
import {
  GreengrassCloudStub,
  type DeploymentComponentUpdate,
} from '../../../scripts/cloud/greengrass-cloud-stub.ts';

const RECIPE = (name: string, version: string): string =>
  [
    'RecipeFormatVersion: "2020-01-25"',
    `ComponentName: ${name}`,
    `ComponentVersion: "${version}"`,
    'Manifests: []',
    '',
  ].join('\n');

describe('scripts/cloud/cloud-deployment', () => {
  let stub: GreengrassCloudStub;
  let client: GreengrassV2Client;

  beforeEach(async () => {
    stub = new GreengrassCloudStub();
    client = createGreengrassClient({ region: 'eu-central-1', endpoint: await stub.start() });
  });
  afterEach(async () => {
    client.destroy();
    await stub.close();
  });

  it('publishes component versions through the real SDK and lists them', async () => {
    const refs = await publishComponentVersions(client, [RECIPE('com.edgeshift.NodeMonitor', '0.1.0')]);
    assert.deepEqual(refs, [{ componentName: 'com.edgeshift.NodeMonitor', componentVersion: '0.1.0' }]);
    // Publishing again is not an error: the version is kept as it is.
    await publishComponentVersions(client, [RECIPE('com.edgeshift.NodeMonitor', '0.1.0')]);
    const listed = await client.send(new ListComponentsCommand({}));
    assert.equal(listed.components?.[0]?.latestVersion?.componentVersion, '0.1.0');
  });

  it('rejects a recipe using the reserved aws.greengrass prefix with the service error', async () => {
    await assert.rejects(publishComponentVersions(client, [RECIPE('aws.greengrass.Mine', '1.0.0')]), {
      name: 'ValidationException',
      message: /reserved aws\.greengrass prefix/,
    });
  });

  it('delivers the configuration merge to the device and reports SUCCEEDED', async () => {
    const received: Record<string, DeploymentComponentUpdate>[] = [];
    stub.registerDevice('node-a', (components) => {
      received.push({ ...components });
      return Promise.resolve({ succeeded: true });
    });
    await publishComponentVersions(client, [RECIPE('com.edgeshift.PeerAgent', '0.1.0')]);
    const deploymentId = await createDeployment(client, {
      targetArn: stub.thingArn('node-a'),
      deploymentName: 'edgeshift',
      components: {
        'com.edgeshift.PeerAgent': { componentVersion: '0.1.0', merge: { placement: { loadHighBp: 9000 } } },
      },
    });
    const statuses: string[] = [];
    const status = await waitForDeployment(client, {
      thingName: 'node-a',
      deploymentId,
      timeoutMs: 5000,
      pollIntervalMs: 20,
      onStatus: (s) => statuses.push(s),
    });
    assert.equal(status, 'SUCCEEDED');
    assert.deepEqual(received, [
      {
        'com.edgeshift.PeerAgent': { componentVersion: '0.1.0', merge: { placement: { loadHighBp: 9000 } } },
      },
    ]);
  });

  it('revises the latest deployment with a merge, keeping the other components', async () => {
    const received: Record<string, DeploymentComponentUpdate>[] = [];
    stub.registerDevice('node-a', (components) => {
      received.push({ ...components });
      return Promise.resolve({ succeeded: true });
    });
    await publishComponentVersions(client, [
      RECIPE('com.edgeshift.PeerAgent', '0.1.0'),
      RECIPE('com.edgeshift.NodeMonitor', '0.1.0'),
    ]);
    const first = await createDeployment(client, {
      targetArn: stub.thingArn('node-a'),
      deploymentName: 'edgeshift',
      components: {
        'com.edgeshift.PeerAgent': { componentVersion: '0.1.0' },
        'com.edgeshift.NodeMonitor': { componentVersion: '0.1.0' },
      },
    });
    await waitForDeployment(client, {
      thingName: 'node-a',
      deploymentId: first,
      timeoutMs: 5000,
      pollIntervalMs: 20,
    });
    const second = await reviseDeploymentConfiguration(client, {
      thingName: 'node-a',
      targetArn: stub.thingArn('node-a'),
      componentName: 'com.edgeshift.NodeMonitor',
      merge: { periodMs: 50 },
    });
    await waitForDeployment(client, {
      thingName: 'node-a',
      deploymentId: second,
      timeoutMs: 5000,
      pollIntervalMs: 20,
    });
    assert.deepEqual(received[1], {
      'com.edgeshift.PeerAgent': { componentVersion: '0.1.0' },
      'com.edgeshift.NodeMonitor': { componentVersion: '0.1.0', merge: { periodMs: 50 } },
    });
  });

  it('fails with the device reason when the device rejects the configuration', async () => {
    stub.registerDevice('node-a', () =>
      Promise.resolve({ succeeded: false, reason: 'periodMs must be >= 10' }),
    );
    await publishComponentVersions(client, [RECIPE('com.edgeshift.NodeMonitor', '0.1.0')]);
    const deploymentId = await createDeployment(client, {
      targetArn: stub.thingArn('node-a'),
      deploymentName: 'bad',
      components: { 'com.edgeshift.NodeMonitor': { componentVersion: '0.1.0', merge: { periodMs: 1 } } },
    });
    await assert.rejects(
      waitForDeployment(client, { thingName: 'node-a', deploymentId, timeoutMs: 5000, pollIntervalMs: 20 }),
      {
        code: 'ERR_DEPLOYMENT_FAILED',
        message: /periodMs must be >= 10/,
      },
    );
  });

  it('times out while the device is offline (the deployment stays QUEUED)', async () => {
    await publishComponentVersions(client, [RECIPE('com.edgeshift.NodeMonitor', '0.1.0')]);
    const deploymentId = await createDeployment(client, {
      targetArn: stub.thingArn('node-offline'),
      deploymentName: 'queued',
      components: { 'com.edgeshift.NodeMonitor': { componentVersion: '0.1.0' } },
    });
    await assert.rejects(
      waitForDeployment(client, {
        thingName: 'node-offline',
        deploymentId,
        timeoutMs: 100,
        pollIntervalMs: 20,
      }),
      { code: 'ERR_DEPLOYMENT_TIMEOUT', message: /still QUEUED/ },
    );
  });

  it('refuses a deployment of a component version that was never published', async () => {
    await assert.rejects(
      createDeployment(client, {
        targetArn: stub.thingArn('node-a'),
        deploymentName: 'missing',
        components: { 'com.edgeshift.Nope': { componentVersion: '9.9.9' } },
      }),
      { name: 'ValidationException', message: /does not exist/ },
    );
  });
});
