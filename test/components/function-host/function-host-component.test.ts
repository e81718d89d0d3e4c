import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { ChannelFunctionHostControl } from '../../../agent/function-host-channel.ts';
import { IpcFunctionHostControl } from '../../../agent/function-host-client.ts';
import { agentControlTopic } from '../../../components/common/agent-control-contract.ts';
import { runComponent, type ComponentRuntime } from '../../../components/common/component-runtime.ts';
import { hasErrorCode } from '../../../components/common/errors.ts';
import { connectIpc, type IpcClient } from '../../../components/common/ipc/index.ts';
import { createLogger } from '../../../components/common/logger.ts';
import {
  functionHostControlTopic,
  type ExportChunk,
  type FunctionSummary,
} from '../../../components/function-host/function-host-api.ts';
import type { FunctionHostConfig } from '../../../components/function-host/function-host-config.ts';
import { functionHostComponentOptions } from '../../../components/function-host/function-host-component.ts';
import { LocalNucleus } from '../../../scripts/local-nucleus/local-nucleus.ts';
import { freePort } from '../../support/free-port.ts';

const NAME = 'com.edgeshift.FunctionHost';
const AGENT = 'com.test.Agent';
const NODE = 'node-a';
const TOPIC = functionHostControlTopic(NODE);
const AGENT_TOPIC = agentControlTopic(NODE);

function policy(name: string, operations: string[], resources: string[]): Record<string, unknown> {
  return {
    'aws.greengrass.ipc.pubsub': {
      [`${name}:pubsub:1`]: { policyDescription: 'test', operations, resources },
    },
  };
}

describe('components/function-host/function-host-component', function () {
  this.timeout(30_000);
  let dir: string;
  let nucleus: LocalNucleus;
  let runtime: ComponentRuntime<FunctionHostConfig> | undefined;
  let agent: IpcClient | undefined;
  let probe: Socket | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'edgeshift-fnhost-'));
    nucleus = new LocalNucleus({ socketPath: path.join(dir, 'ipc.socket'), thingName: NODE });
    await nucleus.start();
  });

  afterEach(async () => {
    probe?.close();
    await agent?.close();
    await runtime?.stop();
    await nucleus.close();
    await rm(dir, { recursive: true, force: true });
    probe = agent = runtime = undefined;
  });

  async function startComponent(drainTimeoutMs = 10_000, standby: readonly string[] = []): Promise<void> {
    const service = async (name: string, serviceId: number) => ({
      name,
      serviceId,
      module: `builtin:sample-app/${name}`,
      port: await freePort('udp'),
      listenAddress: '127.0.0.1',
      initialRole: standby.includes(name) ? 'standby' : 'owner',
    });
    const configuration = {
      nodeName: NODE,
      services: [await service('ingest', 1), await service('sensor-stats', 2), await service('alert', 3)],
      stateCheckpointDir: path.join(dir, 'checkpoints'),
      drainTimeoutMs,
      accessControl: policy(
        NAME,
        ['aws.greengrass#SubscribeToTopic', 'aws.greengrass#PublishToTopic'],
        [
          `${TOPIC}/request`,
          `${TOPIC}/reply/*`,
          `edgeshift/function-host/${NODE}/inflight`,
          `${AGENT_TOPIC}/request`,
          `${AGENT_TOPIC}/reply/*`,
        ],
      ),
    };
    const { svcuid } = nucleus.registerComponent({ name: NAME, version: '0.1.0', configuration });
    runtime = await runComponent(
      functionHostComponentOptions({
        ipc: { socketPath: nucleus.socketPath, authToken: svcuid, connectAttempts: 3 },
        handleSignals: false,
        exit: () => undefined,
        logger: createLogger(NAME, { level: 'silent' }),
      }),
    );
    const agentToken = nucleus.registerComponent({
      name: AGENT,
      version: '1.0.0',
      configuration: {
        accessControl: policy(
          AGENT,
          ['aws.greengrass#SubscribeToTopic', 'aws.greengrass#PublishToTopic'],
          [
            `${TOPIC}/*`,
            `${TOPIC}/reply/*`,
            `${AGENT_TOPIC}/request`,
            `${AGENT_TOPIC}/reply/*`,
            `edgeshift/function-host/${NODE}/inflight`,
          ],
        ),
      },
    }).svcuid;
    agent = await connectIpc({
      socketPath: nucleus.socketPath,
      authToken: agentToken,
      logger: createLogger(AGENT, { level: 'silent' }),
    });
  }

  const call = (body: unknown): Promise<unknown> =>
    (agent as IpcClient).request(TOPIC, body, { timeoutMs: 10_000 });

  it('serves the control operations on its local topic, bytes included', async () => {
    await startComponent();
    const functions = (await call({ op: 'listFunctions' })) as FunctionSummary[];
    assert.deepEqual(
      functions.map((f) => [f.service, f.role, f.isStateful]),
      [
        ['ingest', 'owner', false],
        ['sensor-stats', 'owner', true],
        ['alert', 'owner', false],
      ],
    );
    const ref = { service: 'sensor-stats', migrationId: 'm-1' };
    const started = (await call({ op: 'beginExport', ...ref, chunkBytes: 1024 })) as { chunkCount: number };
    assert.equal(started.chunkCount, 1);
    const chunk = (await call({ op: 'readExportChunk', ...ref, index: 0 })) as ExportChunk;
    assert.ok(chunk.data instanceof Uint8Array, 'chunk data arrives as bytes');
    assert.deepEqual([...chunk.data], [1, 1], 'an empty state is one header-only chunk');
  });

  it('leaves the state of the services it owns in checkpoints when it stops, and serves them again', async () => {
    await startComponent();
    await (runtime as ComponentRuntime<FunctionHostConfig>).stop();
    await agent?.close();
    assert.deepEqual(await readdir(path.join(dir, 'checkpoints')), ['sensor-stats.checkpoint']);
    await startComponent();
    const functions = (await call({ op: 'listFunctions' })) as FunctionSummary[];
    assert.equal(functions.find((f) => f.service === 'sensor-stats')?.role, 'owner');
    assert.deepEqual(await readdir(path.join(dir, 'checkpoints')), [], 'taken back once');
  });

  it('answers a bad request and misuse with their error codes', async () => {
    await startComponent();
    await assert.rejects(call({ op: 'explode' }), (err) => hasErrorCode(err, 'ERR_FNHOST_BAD_REQUEST'));
    await assert.rejects(call({ op: 'freeze', service: 'nope', migrationId: 'm' }), (err) =>
      hasErrorCode(err, 'ERR_FNHOST_UNKNOWN_SERVICE'),
    );
  });

  it('persists a route with UpdateConfiguration and applies a route from a configuration update', async () => {
    await startComponent();
    const owner = { address: '127.0.0.1', port: 9 };
    await call({ op: 'setRoute', service: 'sensor-stats', owner, epoch: 2 });
    const deadline = Date.now() + 10_000;
    while (
      JSON.stringify(nucleus.getConfiguration(NAME).routes) !==
      JSON.stringify({ 'sensor-stats': { ...owner, epoch: 2 } })
    ) {
      assert.ok(
        Date.now() < deadline,
        `routes not persisted: ${JSON.stringify(nucleus.getConfiguration(NAME).routes)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const functions = (await call({ op: 'listFunctions' })) as FunctionSummary[];
    assert.equal(
      functions.find((f) => f.service === 'sensor-stats')?.role,
      'forwarding',
      'the route fenced the old owner',
    );

    // A route for alert pointing at a probe socket: sensor-stats' call to alert must arrive there.
    probe = createSocket('udp4');
    await new Promise<void>((resolve) => (probe as Socket).bind(0, '127.0.0.1', resolve));
    // The route also fences this node's own alert, whose hand-over marker reaches the probe first.
    const arrived = new Promise<Buffer>((resolve) =>
      (probe as Socket).on('message', (bytes: Buffer) => {
        if (!bytes.toString().includes('handOverComplete')) resolve(bytes);
      }),
    );
    const merge = await nucleus.mergeConfiguration(NAME, {
      routes: { alert: { address: '127.0.0.1', port: probe.address().port, epoch: 5 } },
    });
    assert.equal(merge.accepted, true);
    const client = createSocket('udp4');
    const config = nucleus.getConfiguration(NAME) as { services: { name: string; port: number }[] };
    const ingestPort = config.services.find((s) => s.name === 'ingest')?.port as number;
    // Take sensor-stats back as owner through a fresh import so it calls alert again.
    const ref = { service: 'sensor-stats', migrationId: 'm-2' };
    await call({ op: 'dropState', ...ref });
    await call({ op: 'beginImport', ...ref, epoch: 3 });
    await call({ op: 'activate', ...ref, epoch: 3 });
    await call({
      op: 'setRoute',
      service: 'sensor-stats',
      owner: {
        address: '127.0.0.1',
        port: config.services.find((s) => s.name === 'sensor-stats')?.port as number,
      },
      epoch: 3,
    });
    client.send(
      JSON.stringify({ id: 'r:1', service: 'ingest', key: 's1', body: { sensorId: 's1', value: 20 } }),
      ingestPort,
      '127.0.0.1',
    );
    const request = JSON.parse((await arrived).toString()) as { service: string; key: string };
    client.close();
    assert.equal(request.service, 'alert');
    assert.equal(request.key, 's1', 'the call to alert followed the route from the configuration update');
  });

  describe('a stop', () => {
    let channel: ChannelFunctionHostControl | undefined;

    afterEach(() => {
      channel?.close();
      channel = undefined;
    });

    /** Holds the control channel as the peer agent does from its start. */
    async function attachAgent(): Promise<void> {
      channel = new ChannelFunctionHostControl(
        new IpcFunctionHostControl(agent as IpcClient, NODE),
        createLogger(AGENT, { level: 'silent' }),
      );
      assert.ok(await channel.openAhead(2000, 5), 'the control channel opens');
    }

    function stop(): Promise<void> {
      return (runtime as ComponentRuntime<FunctionHostConfig>).stop();
    }

    it('asks the attached agent to drain, still serving the moves, and refuses moves into it', async () => {
      // alert starts as a standby: a move into this node could begin for it.
      await startComponent(10_000, ['alert']);
      await attachAgent();
      const seen: unknown[] = [];
      await (agent as IpcClient).serve(AGENT_TOPIC, async (body) => {
        seen.push(body);
        const functions = (await call({ op: 'listFunctions' })) as FunctionSummary[];
        seen.push(functions.length);
        await call({ op: 'beginImport', service: 'alert', migrationId: 'm-in', epoch: 2 }).catch(
          (err: unknown) => seen.push(hasErrorCode(err, 'ERR_FNHOST_CLOSED')),
        );
        return {
          moved: [{ service: 'sensor-stats', targetNodeId: 'node-b', migrationId: 'm', epoch: 2 }],
          kept: [],
        };
      });
      await stop();
      assert.deepEqual(seen, [{ op: 'drain' }, 3, true]);
    });

    it('announces the drain on its in-flight topic before it asks the agent', async () => {
      await startComponent();
      await attachAgent();
      const events: string[] = [];
      await (agent as IpcClient).subscribe(`edgeshift/function-host/${NODE}/inflight`, (message) => {
        const value = message.kind === 'json' ? (message.value as { draining?: boolean }) : {};
        if (value.draining === true) events.push('draining');
      });
      await (agent as IpcClient).serve(AGENT_TOPIC, () => {
        events.push('drain');
        return { moved: [], kept: [] };
      });
      await stop();
      assert.deepEqual(events.slice(0, 2), ['draining', 'drain']);
    });

    it('keeps serving stateless requests until they stop arriving, then stops', async () => {
      await startComponent();
      const config = nucleus.getConfiguration(NAME) as { services: { name: string; port: number }[] };
      const ingestPort = config.services.find((entry) => entry.name === 'ingest')?.port as number;
      const client = createSocket('udp4');
      let replies = 0;
      client.on('message', () => (replies += 1));
      await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
      let sent = 0;
      const sender = setInterval(() => {
        sent += 1;
        const body = { sensorId: 's1', value: 20 };
        client.send(
          JSON.stringify({ id: `q:${sent}`, service: 'ingest', key: 's1', body }),
          ingestPort,
          '127.0.0.1',
        );
      }, 30);
      const startedMs = performance.now();
      const stopped = stop().then(() => performance.now() - startedMs);
      await delay(700);
      clearInterval(sender);
      const stopMs = await stopped;
      await delay(100);
      client.close();
      assert.ok(stopMs >= 700 + 250, `stopped ${Math.round(stopMs)} ms after the stop began`);
      assert.equal(replies, sent, 'every request sent during the drain was answered');
    });

    it('asks no drain and stops at once when no agent holds the control channel', async () => {
      await startComponent();
      let asked = 0;
      await (agent as IpcClient).serve(AGENT_TOPIC, () => {
        asked += 1;
        return { moved: [], kept: [] };
      });
      const startedMs = performance.now();
      await stop();
      assert.equal(asked, 0);
      assert.ok(performance.now() - startedMs < 5000, 'well under the drain timeout');
      assert.deepEqual(await readdir(path.join(dir, 'checkpoints')), ['sensor-stats.checkpoint']);
    });

    it('stops with its checkpoints when the answer is malformed or late', async () => {
      const late = (): Promise<unknown> =>
        new Promise((resolve) => setTimeout(() => resolve({ moved: [], kept: [] }), 1500));
      for (const answer of [() => ({ moved: 'all' }), late]) {
        await startComponent(500);
        await attachAgent();
        const serving = await (agent as IpcClient).serve(AGENT_TOPIC, answer);
        await stop();
        await serving.close();
        channel?.close();
        await agent?.close();
        assert.deepEqual(await readdir(path.join(dir, 'checkpoints')), ['sensor-stats.checkpoint']);
        await rm(path.join(dir, 'checkpoints'), { recursive: true });
      }
    });

    it('asks nothing when drainTimeoutMs is 0', async () => {
      await startComponent(0);
      await attachAgent();
      let asked = 0;
      await (agent as IpcClient).serve(AGENT_TOPIC, () => (asked += 1));
      await stop();
      assert.equal(asked, 0);
    });
  });
});
