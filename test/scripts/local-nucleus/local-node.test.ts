import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { zipSync } from 'fflate';

import { hasErrorCode } from '../../../components/common/errors.ts';
import { connectIpc, type IpcClient, type LocalMessage } from '../../../components/common/ipc/index.ts';
import { buildArtifacts, COMPONENT_ENTRIES, PROJECT_ROOT } from '../../../scripts/build-artifacts.ts';
import { LocalNode } from '../../../scripts/local-nucleus/local-node.ts';

const MONITOR = 'com.edgeshift.NodeMonitor';

/** Polls a condition until it holds or the deadline passes (effects of another process). */
async function eventually(condition: () => boolean, what: string, deadlineMs = 30_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const FIXTURE_RECIPE = `
RecipeFormatVersion: '2020-01-25'
ComponentName: com.test.Zipped
ComponentVersion: '2.0.0'
ComponentConfiguration:
  DefaultConfiguration:
    greeting: hello
    accessControl:
      aws.greengrass.ipc.pubsub:
        com.test.Zipped:pubsub:1:
          policyDescription: its own topic
          operations: [aws.greengrass#PublishToTopic]
          resources: ['test/{iot:thingName}/out']
Manifests:
  - Platform: { os: '*' }
    Lifecycle:
      Startup: >-
        cat {artifacts:decompressedPath}/bundle/inner/data.txt > {kernel:rootPath}/out.txt &&
        echo " {configuration:/greeting}" >> {kernel:rootPath}/out.txt &&
        {artifacts:path}/tool.sh >> {kernel:rootPath}/out.txt
    Artifacts:
      - URI: s3://bucket/com.test.Zipped/2.0.0/bundle.zip
        Unarchive: ZIP
      - URI: s3://bucket/com.test.Zipped/2.0.0/tool.sh
        Permission: { Execute: OWNER }
`;

describe('scripts/local-nucleus/local-node', function () {
  this.timeout(120_000);
  let dir: string;
  const nodes: LocalNode[] = [];
  const clients: IpcClient[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'edgeshift-node-'));
  });

  afterEach(async () => {
    await Promise.allSettled(clients.splice(0).map((client) => client.close()));
    await Promise.allSettled(nodes.splice(0).map((node) => node.close()));
    await rm(dir, { recursive: true, force: true });
  });

  describe('with fixture artifacts', () => {
    async function layout(): Promise<{ recipeDir: string; artifactDir: string }> {
      const recipeDir = path.join(dir, 'recipes');
      const artifactDir = path.join(dir, 'artifacts');
      const componentDir = path.join(artifactDir, 'com.test.Zipped', '2.0.0');
      await mkdir(recipeDir, { recursive: true });
      await mkdir(componentDir, { recursive: true });
      await writeFile(path.join(recipeDir, 'com.test.Zipped-2.0.0.yaml'), FIXTURE_RECIPE);
      await writeFile(
        path.join(componentDir, 'bundle.zip'),
        zipSync({ 'inner/data.txt': new TextEncoder().encode('from-zip') }),
      );
      await writeFile(path.join(componentDir, 'tool.sh'), '#!/bin/sh\necho from-tool\n');
      return { recipeDir, artifactDir };
    }

    it('copies artifacts, unarchives ZIPs, applies the merge and runs the component', async () => {
      const { recipeDir, artifactDir } = await layout();
      const node = new LocalNode({
        recipeDir,
        artifactDir,
        rootPath: path.join(dir, 'root'),
        thingName: 'node-z',
        merge: { 'com.test.Zipped': { greeting: 'merged' } },
      });
      nodes.push(node);
      await node.start();
      assert.equal(node.nucleus.getState('com.test.Zipped'), 'RUNNING', 'Startup done');
      assert.equal(
        await readFile(path.join(dir, 'root', 'out.txt'), 'utf8'),
        'from-zip merged\nfrom-tool\n',
        'ZIP content at decompressedPath/<zip name>/, merged configuration, executable artifact',
      );
      const accessControl = node.nucleus.getConfiguration('com.test.Zipped').accessControl as Record<
        string,
        Record<string, { resources: string[] }>
      >;
      assert.deepEqual(
        accessControl['aws.greengrass.ipc.pubsub']?.['com.test.Zipped:pubsub:1']?.resources,
        ['test/node-z/out'],
        '{iot:thingName} resolved in accessControl',
      );
    });

    it('refuses a missing artifact with ERR_NODE_ARTIFACT_MISSING and leaves nothing running', async () => {
      const { recipeDir, artifactDir } = await layout();
      await rm(path.join(artifactDir, 'com.test.Zipped', '2.0.0', 'tool.sh'));
      const node = new LocalNode({
        recipeDir,
        artifactDir,
        rootPath: path.join(dir, 'root'),
        thingName: 'node-z',
      });
      nodes.push(node);
      await assert.rejects(
        node.start(),
        (err: unknown) =>
          hasErrorCode(err, 'ERR_NODE_ARTIFACT_MISSING') && /tool\.sh/.test((err as Error).message),
        'the missing file is named',
      );
      assert.ok(!existsSync(path.join(dir, 'root', 'out.txt')), 'no component ran');
    });

    it('refuses a merge for a component that has no recipe', async () => {
      const { recipeDir, artifactDir } = await layout();
      const node = new LocalNode({
        recipeDir,
        artifactDir,
        rootPath: path.join(dir, 'root'),
        thingName: 'node-z',
        merge: { 'com.test.Unknown': {} },
      });
      nodes.push(node);
      await assert.rejects(
        node.start(),
        (err: unknown) => hasErrorCode(err, 'ERR_NODE_START_FAILED'),
        'unknown name',
      );
    });
  });

  describe('from the built artifacts', () => {
    it('runs the node monitor bundle, which reports RUNNING and publishes metrics on its local topic', async function () {
      const entry = path.join(PROJECT_ROOT, COMPONENT_ENTRIES[MONITOR] ?? '');
      assert.ok(
        existsSync(entry),
        `the node monitor entry ${entry} does not exist yet: this test runs once components/node-monitor/main.ts is written`,
      );
      const lines: string[] = [];
      const buildStartMs = Date.now();
      const built = await buildArtifacts({
        outDir: path.join(dir, 'artifacts'),
        components: [MONITOR],
        print: (l) => lines.push(l),
      });
      assert.deepEqual(
        built.built.map((component) => component.artifacts.map((artifact) => path.basename(artifact.path))),
        [['aws-crt-linux-arm64.zip', 'aws-crt-linux-x64.zip', 'bundle.zip']],
        'one bundle and one native ZIP per CPU',
      );
      assert.ok(
        lines.some((line) => /bundle\.zip\s+[\d.]+ (KiB|MiB)/.test(line)),
        'sizes are printed',
      );

      const buildMs = Date.now() - buildStartMs;
      const startedAtMs = Date.now();
      const node = new LocalNode({
        recipeDir: built.recipeDir,
        artifactDir: built.outDir,
        rootPath: path.join(dir, 'root'),
        thingName: 'node-m',
        components: [MONITOR],
        componentEnv: { ...process.env, EDGESHIFT_LOG_LEVEL: 'info' },
        merge: {
          [MONITOR]: {
            periodMs: 100,
            nodeId: 3,
            source: { kind: 'synthetic', cpu: { shape: 'constant', percent: 42 } },
          },
        },
      });
      nodes.push(node);
      await node.start();

      // A test observer allowed to subscribe to the monitor's topic.
      const { svcuid } = node.nucleus.registerComponent({
        name: 'com.test.Observer',
        version: '1.0.0',
        configuration: {
          accessControl: {
            'aws.greengrass.ipc.pubsub': {
              'com.test.Observer:pubsub:1': {
                policyDescription: 'read metrics',
                operations: ['aws.greengrass#SubscribeToTopic'],
                resources: ['edgeshift/metrics/node-m'],
              },
            },
          },
        },
      });
      const observer = await connectIpc({ socketPath: node.nucleus.socketPath, authToken: svcuid });
      clients.push(observer);
      const firstMetrics = new Promise<LocalMessage>((resolve) => {
        void observer.subscribe('edgeshift/metrics/node-m', resolve);
      });
      const message = await firstMetrics;
      const runningAfterMs = Date.now() - startedAtMs;
      await eventually(
        () => readFileSync(node.logPathOf(MONITOR), 'utf8').includes('"message":"running"'),
        'the component runtime to log that it reported RUNNING',
      );
      assert.equal(node.nucleus.getState(MONITOR), 'RUNNING', 'RUNNING in the nucleus');
      assert.equal(message.kind, 'json', 'metrics are JSON');
      const report = (message as { value: Record<string, unknown> }).value;
      assert.equal(report.nodeId, 3, 'the merged nodeId is in the report');
      assert.equal(report.thingName, 'node-m', 'the thing name comes from AWS_IOT_THING_NAME');
      console.log(`      build ${buildMs} ms; local node start to first metrics ${runningAfterMs} ms`);
    });
  });
});
