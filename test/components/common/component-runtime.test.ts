import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { runComponent, type ComponentRuntime } from '../../../components/common/component-runtime.ts';
import { LocalNucleus } from '../../../scripts/local-nucleus/local-nucleus.ts';

interface TestConfig {
  periodMs: number;
  label: string;
}

const SCHEMA = {
  type: 'object',
  properties: {
    periodMs: { type: 'integer', minimum: 1, default: 100 },
    label: { type: 'string', default: 'node' },
  },
  additionalProperties: false,
};

const NAME = 'com.test.Runtime';

const ACCESS_CONTROL = {
  'aws.greengrass.ipc.pubsub': {
    [`${NAME}:pubsub:1`]: {
      policyDescription: 'test topic',
      operations: ['aws.greengrass#PublishToTopic'],
      resources: ['edgeshift/test'],
    },
  },
};

function deferred<T>(): { resolve: (value: T) => void; promise: Promise<T> } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((done) => (resolve = done));
  return { resolve, promise };
}

describe('components/common/component-runtime', function () {
  this.timeout(30_000);
  let dir: string;
  let nucleus: LocalNucleus;
  let runtime: ComponentRuntime<TestConfig> | undefined;
  let exitCodes: number[];
  let closeCount: number;
  let applied: { next: TestConfig; previous: TestConfig }[];
  let appliedSignal: ReturnType<typeof deferred<void>>;

  const signals = new EventEmitter();

  async function start(
    configuration: Record<string, unknown>,
    handleSignals = false,
  ): Promise<ComponentRuntime<TestConfig>> {
    const { svcuid } = nucleus.registerComponent({ name: NAME, version: '1.0.0', configuration });
    runtime = await runComponent<TestConfig>({
      componentName: NAME,
      schema: SCHEMA,
      rules: [(config) => (config.label === 'forbidden' ? '/label must not be "forbidden"' : undefined)],
      ipc: { socketPath: nucleus.socketPath, authToken: svcuid, connectAttempts: 3 },
      handleSignals,
      signalSource: signals,
      exit: (code) => exitCodes.push(code),
      start: ({ config }) => {
        assert.ok(Object.isFrozen(config), 'the component receives a frozen configuration');
        return {
          applyConfiguration: (next, previous) => {
            applied.push({ next: { ...next }, previous: { ...previous } });
            appliedSignal.resolve();
          },
          close: () => {
            closeCount += 1;
            return Promise.resolve();
          },
        };
      },
    });
    return runtime;
  }

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'edgeshift-runtime-'));
    nucleus = new LocalNucleus({ socketPath: path.join(dir, 'ipc.socket'), thingName: 'thing-1' });
    await nucleus.start();
    exitCodes = [];
    closeCount = 0;
    applied = [];
    appliedSignal = deferred<void>();
    runtime = undefined;
  });

  afterEach(async () => {
    await runtime?.stop();
    await nucleus.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts with the validated configuration, defaults filled and accessControl stripped, and reports RUNNING', async () => {
    const started = await start({ periodMs: 250, accessControl: ACCESS_CONTROL });
    assert.deepEqual(
      started.config,
      { periodMs: 250, label: 'node' },
      'defaults filled, accessControl not seen',
    );
    assert.equal(nucleus.getState(NAME), 'RUNNING', 'RUNNING reported through UpdateState');
  });

  it('reports ERRORED and exits 1 when the configuration at start is invalid', async () => {
    await assert.rejects(start({ periodMs: 0 }), /\/periodMs must be >= 1/, 'the reason names the path');
    assert.equal(nucleus.getState(NAME), 'ERRORED', 'ERRORED reported');
    assert.deepEqual(exitCodes, [1], 'exit code 1');
  });

  it('rejects a bad deployment merge with the path and reason and keeps the old configuration', async () => {
    const started = await start({ periodMs: 100 });
    const schemaFailure = await nucleus.mergeConfiguration(NAME, { periodMs: 'fast' });
    assert.equal(schemaFailure.accepted, false, 'a string period is rejected');
    assert.match(
      schemaFailure.reason ?? '',
      /\/periodMs must be integer/,
      'path and reason reach the deployer',
    );
    const ruleFailure = await nucleus.mergeConfiguration(NAME, { label: 'forbidden' });
    assert.equal(ruleFailure.accepted, false, 'a cross-field rule rejects too');
    assert.match(
      ruleFailure.reason ?? '',
      /\/label must not be "forbidden"/,
      'rule message reaches the deployer',
    );
    assert.deepEqual(
      started.config,
      { periodMs: 100, label: 'node' },
      'the old configuration stays in force',
    );
    assert.deepEqual(applied, [], 'nothing was applied');
  });

  it('applies a good update without a restart', async () => {
    const started = await start({ periodMs: 100 });
    const result = await nucleus.mergeConfiguration(NAME, { periodMs: 50 });
    assert.equal(result.accepted, true, 'a valid merge is accepted');
    await appliedSignal.promise;
    await new Promise((resolve) => setImmediate(resolve)); // the runtime swaps its config after apply returns
    assert.deepEqual(
      applied,
      [{ next: { periodMs: 50, label: 'node' }, previous: { periodMs: 100, label: 'node' } }],
      'the component saw the next and previous configuration once',
    );
    assert.deepEqual(started.config, { periodMs: 50, label: 'node' }, 'the new configuration is in force');
    assert.equal(closeCount, 0, 'no restart');
  });

  it('exits 1 when the component does not finish closing before the stop deadline', async () => {
    const { svcuid } = nucleus.registerComponent({ name: NAME, version: '1.0.0', configuration: {} });
    const hanging = await runComponent<TestConfig>({
      componentName: NAME,
      schema: SCHEMA,
      ipc: { socketPath: nucleus.socketPath, authToken: svcuid, connectAttempts: 3 },
      handleSignals: false,
      exit: (code) => exitCodes.push(code),
      stopDeadlineMs: 50,
      start: () => ({ close: () => new Promise<void>(() => undefined) }),
    });
    await hanging.stop(0);
    assert.deepEqual(exitCodes, [1], 'exit code 1 once the deadline passed');
    await hanging.ipc.close();
  });

  it('closes the component then IPC and exits 0 on SIGTERM', async () => {
    await start({ periodMs: 100 }, true);
    const ipc = runtime?.ipc;
    signals.emit('SIGTERM');
    await runtime?.stop(); // joins the stop SIGTERM began
    assert.equal(closeCount, 1, 'close() called once');
    assert.ok(ipc?.isClosed, 'IPC closed');
    assert.deepEqual(exitCodes, [0], 'exit code 0');
  });
});
