import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { parse } from 'yaml';

import type { ComponentRuntime } from '../../../components/common/component-runtime.ts';
import { connectIpc, type IpcClient } from '../../../components/common/ipc/index.ts';
import type { MetricsReport } from '../../../components/node-monitor/metrics-report.ts';
import { runNodeMonitorComponent } from '../../../components/node-monitor/node-monitor-component.ts';
import type { NodeMonitorConfig } from '../../../components/node-monitor/node-monitor-config.ts';
import { decodeHeader, type EdgeShiftHeader } from '../../../p4/protocol/edgeshift-header.ts';
import { LocalNucleus } from '../../../scripts/local-nucleus/local-nucleus.ts';
import { UdpInbox } from './udp-inbox.ts';

const MONITOR = 'com.edgeshift.NodeMonitor';
const OBSERVER = 'com.test.MetricsObserver';
const THING = 'node-a';
const RECIPE_PATH = new URL('../../../recipes/com.edgeshift.NodeMonitor.yaml', import.meta.url);

/**
 * The recipe's DefaultConfiguration, accessControl included, with {iot:thingName} substituted as the
 * local node's runner does: the monitor runs under its real policy.
 */
function recipeDefaults(): Record<string, unknown> {
  const recipe = parse(readFileSync(RECIPE_PATH, 'utf8')) as {
    ComponentConfiguration: { DefaultConfiguration: Record<string, unknown> };
  };
  const text = JSON.stringify(recipe.ComponentConfiguration.DefaultConfiguration);
  return JSON.parse(text.replaceAll('{iot:thingName}', THING)) as Record<string, unknown>;
}

const OBSERVER_POLICY = {
  'aws.greengrass.ipc.pubsub': {
    [`${OBSERVER}:pubsub:1`]: {
      policyDescription: 'read the metrics, play the function host',
      operations: ['aws.greengrass#SubscribeToTopic', 'aws.greengrass#PublishToTopic'],
      resources: [`edgeshift/metrics/${THING}`, `edgeshift/function-host/${THING}/inflight`],
    },
  },
};

describe('components/node-monitor/node-monitor-component', function () {
  this.timeout(60_000);
  let dir: string;
  let nucleus: LocalNucleus;
  let inbox: UdpInbox;
  let observer: IpcClient | undefined;
  let runtime: ComponentRuntime<NodeMonitorConfig> | undefined;
  let exitCodes: number[];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'edgeshift-monitor-component-'));
    nucleus = new LocalNucleus({
      socketPath: path.join(dir, 'ipc.socket'),
      thingName: THING,
      configurationValidationTimeoutMs: 10_000,
    });
    await nucleus.start();
    inbox = await UdpInbox.open();
    exitCodes = [];
  });

  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
    await observer?.close();
    observer = undefined;
    await inbox.close();
    await nucleus.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Reads METRICS packets until one satisfies `predicate`; fails after 10 s. */
  async function packetWhere(predicate: (header: EdgeShiftHeader) => boolean): Promise<EdgeShiftHeader> {
    const deadlineMs = Date.now() + 10_000;
    for (;;) {
      assert.ok(Date.now() < deadlineMs, 'no matching METRICS packet within 10 s');
      const decoded = decodeHeader(await inbox.next());
      assert.ok(decoded.ok, 'the monitor only sends valid headers');
      if (predicate(decoded.header)) return decoded.header;
    }
  }

  async function startMonitor(): Promise<void> {
    const { svcuid } = nucleus.registerComponent({
      name: MONITOR,
      version: '0.1.0',
      configuration: {
        ...recipeDefaults(),
        nodeId: 2,
        thingName: THING,
        periodMs: 50,
        smoothingTimeConstantMs: 50,
        source: {
          kind: 'synthetic',
          cpu: { shape: 'constant', percent: 40 },
          memory: { shape: 'constant', percent: 20 },
        },
        dataPlane: { address: '127.0.0.1', port: inbox.port },
      },
    });
    const observerToken = nucleus.registerComponent({
      name: OBSERVER,
      version: '1.0.0',
      configuration: { accessControl: OBSERVER_POLICY },
    }).svcuid;
    observer = await connectIpc({
      socketPath: nucleus.socketPath,
      authToken: observerToken,
      connectAttempts: 3,
    });
    runtime = await runNodeMonitorComponent({
      ipc: { socketPath: nucleus.socketPath, authToken: svcuid, connectAttempts: 3 },
      handleSignals: false,
      exit: (code) => exitCodes.push(code),
    });
  }

  it('reports RUNNING and publishes its reports on edgeshift/metrics/<thingName> under its recipe policy', async () => {
    await startMonitor();
    assert.equal(nucleus.getState(MONITOR), 'RUNNING');
    const report = await new Promise<MetricsReport>((resolve) => {
      void observer?.subscribe(`edgeshift/metrics/${THING}`, (message) => {
        if (message.kind === 'json') resolve(message.value as MetricsReport);
      });
    });
    assert.deepEqual(
      [report.nodeId, report.thingName, report.cpuLoadBp, report.memLoadBp],
      [2, THING, 4000, 2000],
      'the synthetic 40 % CPU and 20 % memory of node 2',
    );
  });

  it("announces the function host's in-flight count from its local topic", async () => {
    await startMonitor();
    await packetWhere(() => true);
    await observer?.publishJson(`edgeshift/function-host/${THING}/inflight`, { inflightRequests: 9 });
    const header = await packetWhere((candidate) => candidate.inflightRequests !== 0);
    assert.equal(header.inflightRequests, 9);
  });

  it('applies a deployment merge without restart and rejects a bad one naming the field', async () => {
    await startMonitor();
    const accepted = await nucleus.mergeConfiguration(MONITOR, {
      source: { kind: 'synthetic', cpu: { shape: 'constant', percent: 70 } },
    });
    assert.deepEqual(accepted, { accepted: true });
    const header = await packetWhere((candidate) => candidate.cpuLoadBp === 7000);
    assert.equal(header.memLoadBp, 2000, 'a merge keeps the memory waveform it does not replace');
    const rejected = await nucleus.mergeConfiguration(MONITOR, { periodMs: 5 });
    assert.equal(rejected.accepted, false);
    assert.match(rejected.reason ?? '', /\/periodMs/, 'the reason names the field');
    assert.equal(runtime?.config.periodMs, 50, 'the previous configuration stays in force');
  });

  it('closes on stop and exits 0', async () => {
    await startMonitor();
    await runtime?.stop(0);
    runtime = undefined;
    assert.deepEqual(exitCodes, [0]);
  });
});
