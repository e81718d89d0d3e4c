// Benchmark of bringing up a node without Greengrass: the node monitor built as a Greengrass artifact
// (scripts/build-artifacts.ts, built once per benchmark process), started by a LocalNode from the recipe
// and artifact directories; measures the time from start() to the component's own RUNNING report (its
// runtime logs it after UpdateState) and to its first metrics on the local topic.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { connectIpc } from '../../components/common/ipc/index.ts';
import { createLogger } from '../../components/common/logger.ts';
import { buildArtifacts, type BuildResult } from '../build-artifacts.ts';
import { LocalNode } from '../local-nucleus/local-node.ts';
import type { Benchmark } from './harness.ts';

const MONITOR = 'com.edgeshift.NodeMonitor';
let built: Promise<{ dir: string; result: BuildResult; buildMs: number }> | undefined;

async function buildOnce(): Promise<{ dir: string; result: BuildResult; buildMs: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'edgeshift-bench-artifacts-'));
  const startedMs = performance.now();
  const result = await buildArtifacts({ outDir: dir, components: [MONITOR], print: () => undefined });
  process.once('exit', () => void rm(dir, { recursive: true, force: true }));
  return { dir, result, buildMs: performance.now() - startedMs };
}

async function waitFor(condition: () => boolean, deadlineMs: number): Promise<void> {
  const until = performance.now() + deadlineMs;
  while (!condition()) {
    if (performance.now() > until) throw new Error('the node monitor did not report RUNNING in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const benchmark: Benchmark = {
  name: 'local-node-startup',
  description:
    'time from LocalNode.start() to the built node monitor reporting RUNNING and publishing metrics',
  async run() {
    built ??= buildOnce();
    const { result, buildMs } = await built;
    const root = await mkdtemp(path.join(os.tmpdir(), 'edgeshift-bench-node-'));
    const node = new LocalNode({
      recipeDir: result.recipeDir,
      artifactDir: result.outDir,
      rootPath: root,
      thingName: 'bench-node',
      components: [MONITOR],
      componentEnv: { ...process.env, EDGESHIFT_LOG_LEVEL: 'info' },
      logger: createLogger('local-node', { level: 'silent' }),
      merge: { [MONITOR]: { source: { kind: 'synthetic', cpu: { shape: 'constant', percent: 30 } } } },
    });
    const startedMs = performance.now();
    try {
      await node.start();
      const startReturnedMs = performance.now() - startedMs;
      const { svcuid } = node.nucleus.registerComponent({
        name: 'com.bench.Observer',
        version: '1.0.0',
        configuration: {
          accessControl: {
            'aws.greengrass.ipc.pubsub': {
              'com.bench.Observer:pubsub:1': {
                policyDescription: 'read metrics',
                operations: ['aws.greengrass#SubscribeToTopic'],
                resources: ['edgeshift/metrics/bench-node'],
              },
            },
          },
        },
      });
      const observer = await connectIpc({ socketPath: node.nucleus.socketPath, authToken: svcuid });
      const firstMetrics = new Promise<number>((resolve) => {
        void observer.subscribe('edgeshift/metrics/bench-node', () => resolve(performance.now() - startedMs));
      });
      const logPath = node.logPathOf(MONITOR);
      await waitFor(
        () => existsSync(logPath) && readFileSync(logPath, 'utf8').includes('"message":"running"'),
        30_000,
      );
      const reportedRunningMs = performance.now() - startedMs;
      const firstMetricsMs = await firstMetrics;
      await observer.close();
      return { buildMs, startReturnedMs, reportedRunningMs, firstMetricsMs };
    } finally {
      await node.close();
      await rm(root, { recursive: true, force: true });
    }
  },
};
