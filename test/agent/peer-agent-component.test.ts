import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { agentControlTopic } from '../../components/common/agent-control-contract.ts';
import type { AgentStatus } from '../../agent/peer-agent.ts';
import { peerAgentComponentOptions } from '../../agent/peer-agent-component.ts';
import { runComponent, type ComponentRuntime } from '../../components/common/component-runtime.ts';
import { hasErrorCode } from '../../components/common/errors.ts';
import { connectIpc, type IpcClient } from '../../components/common/ipc/index.ts';
import { createLogger, type Logger } from '../../components/common/logger.ts';
import { functionHostControlTopic } from '../../components/function-host/function-host-api.ts';
import { functionHostComponentOptions } from '../../components/function-host/function-host-component.ts';
import { LocalNucleus } from '../../scripts/local-nucleus/local-nucleus.ts';
import { freePort } from '../support/free-port.ts';
import { testCertificates } from './support/test-certificates.ts';
import { until } from './support/until.ts';

const NODE = 'node-a';
const AGENT = 'com.edgeshift.PeerAgent';
const HOST = 'com.edgeshift.FunctionHost';
const CLI = 'com.test.NodeCli';
const HOST_TOPIC = functionHostControlTopic(NODE);
const AGENT_TOPIC = agentControlTopic(NODE);

function pubsubPolicy(name: string, resources: string[]): Record<string, unknown> {
  return {
    'aws.greengrass.ipc.pubsub': {
      [`${name}:pubsub:1`]: {
        policyDescription: 'test',
        operations: ['aws.greengrass#SubscribeToTopic', 'aws.greengrass#PublishToTopic'],
        resources,
      },
    },
  };
}

describe('agent/peer-agent-component', function () {
  this.timeout(60_000);
  let dir: string;
  let nucleus: LocalNucleus;
  const runtimes: ComponentRuntime<unknown>[] = [];
  let cli: IpcClient | undefined;

  before(async () => {
    await testCertificates();
  });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'edgeshift-agent-'));
    nucleus = new LocalNucleus({ socketPath: path.join(dir, 'ipc.socket'), thingName: NODE });
    await nucleus.start();
  });

  afterEach(async () => {
    await cli?.close();
    for (const runtime of runtimes.splice(0).reverse()) await runtime.stop();
    await nucleus.close();
    await rm(dir, { recursive: true, force: true });
    cli = undefined;
  });

  /** Registers a component with the nucleus; returns the runtime options that connect it. */
  function register(name: string, configuration: Record<string, unknown>, logger?: Logger) {
    const { svcuid } = nucleus.registerComponent({ name, version: '0.1.0', configuration });
    return {
      ipc: { socketPath: nucleus.socketPath, authToken: svcuid, connectAttempts: 3 },
      handleSignals: false,
      exit: () => undefined,
      logger: logger ?? createLogger(name, { level: 'silent' }),
    };
  }

  it('runs under the nucleus, reaches the function host over IPC and answers status on its control topic', async () => {
    const certs = await testCertificates();
    const hostConfiguration = {
      nodeName: NODE,
      stateCheckpointDir: '',
      services: [
        {
          name: 'sensor-stats',
          serviceId: 2,
          module: 'builtin:sample-app/sensor-stats',
          port: await freePort('udp'),
          listenAddress: '127.0.0.1',
        },
      ],
      accessControl: pubsubPolicy(HOST, [
        `${HOST_TOPIC}/request`,
        `${HOST_TOPIC}/reply/*`,
        `edgeshift/function-host/${NODE}/inflight`,
      ]),
    };
    const startHost = async (): Promise<ComponentRuntime<unknown>> =>
      runComponent(functionHostComponentOptions(register(HOST, hostConfiguration)));
    runtimes.push(await startHost());
    const agentConfiguration = {
      nodeId: 1,
      nodeName: NODE, // in process the nucleus gives no AWS_IOT_THING_NAME: name the node as the function host does
      grpcListenAddress: '127.0.0.1:0',
      peers: [{ nodeId: 2, nodeName: 'node-b', grpcAddress: '127.0.0.1:1' }],
      services: [{ name: 'sensor-stats', serviceId: 2, port: 7107, cutover: 'in-network' }],
      dataPlane: { address: '127.0.0.1', port: 7700, listenAddress: '127.0.0.1', listenPort: 0 },
      tls: {
        caCertPath: path.join(certs.dir, 'trusted', 'ca.crt'),
        certPath: path.join(certs.dir, 'trusted', 'node-a.crt'),
        keyPath: path.join(certs.dir, 'trusted', 'node-a.key'),
      },
      accessControl: pubsubPolicy(AGENT, [
        `${HOST_TOPIC}/request`,
        `${HOST_TOPIC}/reply/*`,
        `${AGENT_TOPIC}/request`,
        `${AGENT_TOPIC}/reply/*`,
        `edgeshift/metrics/${NODE}`,
      ]),
    };
    const agentLog: string[] = [];
    const agentLogger = createLogger(AGENT, { level: 'info', sink: (line) => agentLog.push(line) });
    runtimes.push(
      await runComponent(peerAgentComponentOptions(register(AGENT, agentConfiguration, agentLogger))),
    );
    const opened = (): number =>
      agentLog.filter((line) => line.includes('control channel to the function host open')).length;
    await until(() => opened() === 1, 'the agent opens the control channel at start, before any move');
    // The function host restarts: the agent opens the channel to the new one, still before any move.
    await runtimes[0]!.stop();
    runtimes[0] = await startHost();
    await until(() => opened() === 2, 'the agent reopens the channel to the restarted function host');
    const { svcuid } = nucleus.registerComponent({
      name: CLI,
      version: '1.0.0',
      configuration: { accessControl: pubsubPolicy(CLI, [`${AGENT_TOPIC}/*`, `${AGENT_TOPIC}/reply/*`]) },
    });
    cli = await connectIpc({
      socketPath: nucleus.socketPath,
      authToken: svcuid,
      logger: createLogger(CLI, { level: 'silent' }),
    });

    const status = (await cli.request(AGENT_TOPIC, { op: 'status' }, { timeoutMs: 10_000 })) as AgentStatus;
    assert.equal(status.nodeId, NODE, 'the agent is named as configured');
    assert.deepEqual(
      status.functions.map((entry) => [entry.service, entry.role, entry.isStateful]),
      [['sensor-stats', 'owner', true]],
      'the function list comes from the real function host over IPC',
    );
    assert.deepEqual(status.migrations, [], 'no migration in progress');

    await assert.rejects(
      cli
        .request(AGENT_TOPIC, { op: 'migrate', service: 'sensor-stats' }, { timeoutMs: 20_000 })
        .then((reply) => {
          const result = reply as { outcome: string; abortReason?: { code: string } };
          if (result.outcome === 'aborted')
            throw Object.assign(new Error('aborted'), { code: result.abortReason?.code });
          return reply;
        }),
      (err) => hasErrorCode(err, 'ERR_PEER_UNREACHABLE'),
      'a move to a peer that is not running aborts, and the answer says why',
    );
    await assert.rejects(cli.request(AGENT_TOPIC, { op: 'explode' }, { timeoutMs: 10_000 }), (err) =>
      hasErrorCode(err, 'ERR_PEER_BAD_MESSAGE'),
    );
  });
});
