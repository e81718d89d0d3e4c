// Drives the node CLI (runCli) against real parts: a local nucleus with the real SDK client, the node
// monitor, function host and peer agent components in process, and a reference data plane with its
// admin interface; the CLI reaches IPC as the debug principal, through the debug-ipc.json access file.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { agentControlTopic } from '../../../components/common/agent-control-contract.ts';
import { peerAgentComponentOptions } from '../../../agent/peer-agent-component.ts';
import { runComponent, type ComponentRuntime } from '../../../components/common/component-runtime.ts';
import { createLogger } from '../../../components/common/logger.ts';
import { functionHostControlTopic } from '../../../components/function-host/function-host-api.ts';
import { functionHostComponentOptions } from '../../../components/function-host/function-host-component.ts';
import { runNodeMonitorComponent } from '../../../components/node-monitor/node-monitor-component.ts';
import { DataPlaneLink } from '../../../components/common/data-plane-link.ts';
import { EDGESHIFT_UDP_PORT, PacketType } from '../../../p4/protocol/edgeshift-protocol.ts';
import { headerOf } from '../../../p4/protocol/edgeshift-header.ts';
import {
  startReferenceDataPlane,
  type ReferenceDataPlane,
} from '../../../p4/reference/reference-data-plane.ts';
import { grantDebugAccess } from '../../../scripts/cli/debug-access.ts';
import { runCli } from '../../../scripts/cli/edgeshift.ts';
import { DEFAULT_TOPOLOGY_PATH, loadDemoTopology } from '../../../scripts/demo.ts';
import { LocalNucleus } from '../../../scripts/local-nucleus/local-nucleus.ts';
import { testCertificates } from '../../agent/support/test-certificates.ts';

const NODE = 'node-a';
const HOST_TOPIC = functionHostControlTopic(NODE);
const AGENT_TOPIC = agentControlTopic(NODE);

interface CliRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

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

async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

describe('scripts/cli/edgeshift', function () {
  this.timeout(60_000);
  let dir: string;
  let nucleus: LocalNucleus;
  let dataPlane: ReferenceDataPlane;
  let accessFile: string;
  let adminUrl: string;
  const runtimes: ComponentRuntime<unknown>[] = [];

  async function cli(...argv: string[]): Promise<CliRun> {
    const out: string[] = [];
    const err: string[] = [];
    const exitCode = await runCli(['--ipc', accessFile, '--data-plane-admin', adminUrl, ...argv], {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      env: {},
    });
    return { exitCode, stdout: out.join('\n'), stderr: err.join('\n') };
  }

  function register(name: string, configuration: Record<string, unknown>) {
    const { svcuid } = nucleus.registerComponent({ name, version: '0.1.0', configuration });
    return {
      ipc: { socketPath: nucleus.socketPath, authToken: svcuid, connectAttempts: 3 },
      handleSignals: false,
      exit: () => undefined,
      logger: createLogger(name, { level: 'silent' }),
    };
  }

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'edgeshift-cli-'));
    const topology = await loadDemoTopology(DEFAULT_TOPOLOGY_PATH, 20 + Math.floor(Math.random() * 70));
    dataPlane = await startReferenceDataPlane({
      topology,
      adminPort: 0,
      logger: createLogger('dp', { level: 'silent' }),
    });
    adminUrl = dataPlane.admin?.url ?? '';
    const nodeA = topology.nodes.find((node) => node.name === NODE);
    assert.ok(nodeA !== undefined);
    // node-a owns sensor-stats at epoch 1 in the data plane, as its agent would claim it.
    const link = await DataPlaneLink.open({
      dataPlane: { address: topology.dataPlane.ipv4, port: EDGESHIFT_UDP_PORT },
      listen: { address: nodeA.ipv4, port: 0 },
      log: createLogger('link', { level: 'silent' }),
    });
    await link.send(
      headerOf({
        type: PacketType.CLAIM,
        nodeId: 1,
        serviceId: 1,
        sequence: 1,
        epoch: 1,
      }),
    );
    await link.close();

    nucleus = new LocalNucleus({ socketPath: path.join(dir, 'ipc.socket'), thingName: NODE });
    await nucleus.start();
    accessFile = (await grantDebugAccess(nucleus, { rootPath: dir, thingName: NODE })).filePath;
    runtimes.push(
      await runNodeMonitorComponent(
        register('com.edgeshift.NodeMonitor', {
          nodeId: 1,
          thingName: NODE,
          periodMs: 100,
          source: {
            kind: 'synthetic',
            cpu: { shape: 'constant', percent: 42 },
            memory: { shape: 'constant', percent: 30 },
          },
          dataPlane: {
            address: topology.dataPlane.ipv4,
            port: EDGESHIFT_UDP_PORT,
            sourceAddress: nodeA.ipv4,
          },
          publishLocalTopic: true,
          accessControl: pubsubPolicy('com.edgeshift.NodeMonitor', [
            `edgeshift/metrics/${NODE}`,
            `edgeshift/function-host/${NODE}/inflight`,
          ]),
        }),
      ),
    );
    const certs = await testCertificates();
    runtimes.push(
      await runComponent(
        functionHostComponentOptions(
          register('com.edgeshift.FunctionHost', {
            nodeName: NODE,
            stateCheckpointDir: '',
            services: [
              {
                name: 'sensor-stats',
                serviceId: 1,
                module: 'builtin:sample-app/sensor-stats',
                port: await freeUdpPort(),
                listenAddress: '127.0.0.1',
              },
            ],
            accessControl: pubsubPolicy('com.edgeshift.FunctionHost', [
              `${HOST_TOPIC}/request`,
              `${HOST_TOPIC}/reply/*`,
              `edgeshift/function-host/${NODE}/inflight`,
            ]),
          }),
        ),
      ),
    );
    runtimes.push(
      await runComponent(
        peerAgentComponentOptions(
          register('com.edgeshift.PeerAgent', {
            nodeId: 1,
            nodeName: NODE,
            grpcListenAddress: '127.0.0.1:0',
            peers: [{ nodeId: 2, nodeName: 'node-b', grpcAddress: '127.0.0.1:1' }],
            services: [{ name: 'sensor-stats', serviceId: 1, port: 7107, cutover: 'in-network' }],
            dataPlane: { address: '127.0.0.1', port: 7700, listenAddress: '127.0.0.1', listenPort: 0 },
            tls: {
              caCertPath: path.join(certs.dir, 'trusted', 'ca.crt'),
              certPath: path.join(certs.dir, 'trusted', 'node-a.crt'),
              keyPath: path.join(certs.dir, 'trusted', 'node-a.key'),
            },
            accessControl: pubsubPolicy('com.edgeshift.PeerAgent', [
              `${HOST_TOPIC}/request`,
              `${HOST_TOPIC}/reply/*`,
              `${AGENT_TOPIC}/request`,
              `${AGENT_TOPIC}/reply/*`,
              `edgeshift/metrics/${NODE}`,
            ]),
          }),
        ),
      ),
    );
  });

  after(async () => {
    for (const runtime of runtimes.splice(0).reverse()) await runtime.stop();
    await nucleus?.close();
    await dataPlane?.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('status', () => {
    it('lists the components with their lifecycle state and the agent with no migration in progress', async () => {
      const run = await cli('status');
      assert.equal(run.exitCode, 0, run.stderr);
      assert.match(
        run.stdout,
        /^com\.edgeshift\.NodeMonitor +0\.1\.0 +RUNNING$/m,
        `monitor row in:\n${run.stdout}`,
      );
      assert.match(
        run.stdout,
        /^com\.edgeshift\.FunctionHost +0\.1\.0 +RUNNING$/m,
        `function host row in:\n${run.stdout}`,
      );
      assert.match(
        run.stdout,
        /^com\.edgeshift\.PeerAgent +0\.1\.0 +RUNNING$/m,
        `agent row in:\n${run.stdout}`,
      );
      assert.match(run.stdout, /^agent node-a$/m, 'the agent answers with its node id');
      assert.match(run.stdout, /^sensor-stats +owner +\d+$/m, 'the agent lists the function it owns');
      assert.match(run.stdout, /migrations in progress: none/, 'no migration');
    });

    it('answers one JSON document with --json', async () => {
      const run = await cli('--json', 'status');
      const document = JSON.parse(run.stdout) as { thingName: string; components: { state: string }[] };
      assert.equal(document.thingName, NODE);
      assert.deepEqual(
        document.components.map((component) => component.state),
        ['RUNNING', 'RUNNING', 'RUNNING'],
      );
    });
  });

  describe('metrics', () => {
    it("prints the monitor's samples from its local topic", async () => {
      const run = await cli('--json', 'metrics', '--follow', '--count', '2');
      assert.equal(run.exitCode, 0, run.stderr);
      const samples = run.stdout
        .split('\n')
        .map(
          (line) =>
            JSON.parse(line) as { thingName: string; cpuLoadBp: number; memLoadBp: number; sequence: number },
        );
      assert.equal(samples.length, 2, 'exactly --count samples');
      assert.equal(samples[0]?.thingName, NODE);
      assert.ok((samples[1]?.sequence ?? 0) > (samples[0]?.sequence ?? 0), 'consecutive samples');
      assert.ok(
        Math.abs((samples[1]?.memLoadBp ?? 0) - 3000) <= 300,
        `memory near the synthetic 30%: ${samples[1]?.memLoadBp}`,
      );
    });

    it('prints one sample as a table row by default', async () => {
      const run = await cli('metrics');
      assert.equal(run.exitCode, 0, run.stderr);
      const lines = run.stdout.split('\n');
      assert.match(lines[0] ?? '', /^TIME +NODE +SEQUENCE +CPU +MEM +INFLIGHT$/);
      assert.match(
        lines[1] ?? '',
        /^\d\d:\d\d:\d\d\.\d{3} +node-a +\d+ +\d+\.\d% +\d+\.\d% +0$/,
        `row: ${lines[1]}`,
      );
      assert.equal(lines.length, 2, 'one sample');
    });
  });

  describe('functions', () => {
    it("lists the function host's functions and their role", async () => {
      const run = await cli('functions');
      assert.equal(run.exitCode, 0, run.stderr);
      assert.match(run.stdout, /^SERVICE +ID +KIND +ROLE +EPOCH +KEYS +STATE BYTES +PROCESSED +BUFFERED$/m);
      assert.match(
        run.stdout,
        /^sensor-stats +1 +stateful +owner +\d+ +0 +0 +0 +0$/m,
        `row in:\n${run.stdout}`,
      );
    });
  });

  describe('migrate', () => {
    it('follows a migration to a peer that is down, prints its timeline and exits 1 with the abort reason', async () => {
      const run = await cli('migrate', 'sensor-stats', '--to', 'node-b', '--option', 'in-network');
      assert.equal(run.exitCode, 1, `an aborted migration fails the command:\n${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, /^migration [\w-]+: sensor-stats node-a → node-b$/m, 'the start line');
      assert.match(
        run.stdout,
        /migration [\w-]+ aborted: sensor-stats node-a → node-b, epoch \d+, in-network cutover/,
        'the result line',
      );
      assert.match(run.stdout, /^AT MS +FROM +TO$/m, 'the transition timeline');
      assert.match(run.stdout, /ABORTED/, 'the timeline ends in ABORTED');
      assert.match(run.stderr, /ERR_PEER_UNREACHABLE/, 'the abort reason');
      assert.match(run.stderr, /\(ERR_CLI_MIGRATION_FAILED\)\nwhat to do: /, 'the code and what to do');
    });

    it('refuses a cutover option the agent is not configured with, before starting anything', async () => {
      const run = await cli('migrate', 'sensor-stats', '--to', 'node-b', '--option', 'reconfiguration');
      assert.equal(run.exitCode, 1);
      assert.match(
        run.stderr,
        /configured with in-network cutover for sensor-stats.*\(ERR_CLI_BAD_ARGUMENT\)/,
      );
      assert.equal(run.stdout, '', 'no migration started');
    });
  });

  describe('drain', () => {
    it('reports what no peer took, with the reason, and exits 1', async () => {
      const run = await cli('drain', '--wait-ms', '20000');
      assert.equal(run.exitCode, 1, `a drain that keeps a service fails:\n${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, /^SERVICE +OUTCOME$/m);
      assert.match(run.stdout, /^sensor-stats +kept: node-b: /m, 'the peer that is down is named');
      assert.match(run.stderr, /node-a still owns sensor-stats \(ERR_CLI_DRAIN_INCOMPLETE\)/);
    });

    it('answers the report as one JSON document with --json', async () => {
      const run = await cli('--json', 'drain');
      const report = JSON.parse(run.stdout) as { moved: unknown[]; kept: { service: string }[] };
      assert.deepEqual(report.moved, []);
      assert.deepEqual(
        report.kept.map((entry) => entry.service),
        ['sensor-stats'],
      );
    });
  });

  describe('data plane commands', () => {
    it('nodes: loads and liveness per node', async () => {
      const run = await cli('nodes');
      assert.equal(run.exitCode, 0, run.stderr);
      assert.match(run.stdout, /^NODE +ID +CPU +MEM +LOAD +INFLIGHT +LIVE +LAST SEQ +STREAK$/m);
      assert.match(
        run.stdout,
        /^node-a +1 +\d+\.\d% +30\.0% +\d+\.\d% +0 +yes +\d+ +0$/m,
        `node-a live in:\n${run.stdout}`,
      );
      assert.match(
        run.stdout,
        /^node-b +2 +0\.0% +0\.0% +0\.0% +0 +no +0 +0$/m,
        `node-b not live in:\n${run.stdout}`,
      );
    });

    it('services: owner and epoch from the CLAIM', async () => {
      const run = await cli('services');
      assert.match(run.stdout, /^sensor-stats +1 +node-a +1$/m, `owner row in:\n${run.stdout}`);
      assert.match(run.stdout, /^ingest +2 +\(none\) +0$/m);
    });

    it('registers: non-zero cells with labels, filtered by name', async () => {
      const run = await cli('registers', 'service_owner');
      assert.equal(run.exitCode, 0, run.stderr);
      assert.deepEqual(
        run.stdout
          .split('\n')
          .slice(0, 2)
          .map((line) => line.split(/ +/)),
        [
          ['REGISTER', 'INDEX', 'LABEL', 'VALUE'],
          ['service_owner', '1', 'sensor-stats', '1'],
        ],
      );
    });

    it('fails with what to do when the admin interface does not answer', async () => {
      const out: string[] = [];
      const err: string[] = [];
      const closedPort = await new Promise<number>((resolve) => {
        const server = net.createServer().listen(0, '127.0.0.1', () => {
          const { port } = server.address() as net.AddressInfo;
          server.close(() => resolve(port));
        });
      });
      const exitCode = await runCli(['--data-plane-admin', `http://127.0.0.1:${closedPort}`, 'nodes'], {
        out: (l) => out.push(l),
        err: (l) => err.push(l),
        env: {},
      });
      assert.equal(exitCode, 1);
      assert.match(
        err.join('\n'),
        /did not answer GET \/nodes.*ECONNREFUSED.*\(ERR_CLI_DATA_PLANE_UNREACHABLE\)/s,
      );
      assert.match(err.join('\n'), /^what to do: Start the data plane/m);
    });
  });

  describe('ipc', () => {
    it('sub prints what pub publishes, JSON as JSON', async () => {
      const subscribed = cli(
        '--json',
        'ipc',
        'sub',
        'edgeshift/debug/#',
        '--count',
        '1',
        '--duration-ms',
        '15000',
      );
      // The subscription is open once the subscriber's stream exists: publish until it is seen.
      let published: CliRun | undefined;
      const deadline = Date.now() + 10_000;
      let done = false;
      void subscribed.then(() => (done = true));
      while (!done && Date.now() < deadline) {
        published = await cli('ipc', 'pub', 'edgeshift/debug/x', '{"hello":[1,2]}');
        assert.equal(published.exitCode, 0, published.stderr);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const run = await subscribed;
      assert.equal(run.exitCode, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), { topic: 'edgeshift/debug/x', json: { hello: [1, 2] } });
      assert.equal(published?.stdout, 'published on edgeshift/debug/x');
    });

    it('pub refuses a payload that is not JSON', async () => {
      const run = await cli('ipc', 'pub', 'edgeshift/debug/x', '{oops');
      assert.equal(run.exitCode, 1);
      assert.match(run.stderr, /payload is not JSON.*\(ERR_CLI_BAD_ARGUMENT\)/);
    });
  });

  describe('IPC access', () => {
    it('without --ipc or the component environment, says how to get access', async () => {
      const err: string[] = [];
      const exitCode = await runCli(['status'], { out: () => undefined, err: (l) => err.push(l), env: {} });
      assert.equal(exitCode, 1);
      assert.match(err.join('\n'), /no IPC access: pass --ipc .*\(ERR_CLI_NO_IPC_ACCESS\)/);
    });

    it('uses the component environment when run inside a component', async () => {
      const { svcuid } = nucleus.registerComponent({
        name: 'com.test.Inside',
        version: '1.0.0',
        configuration: {},
      });
      const out: string[] = [];
      const exitCode = await runCli(['--json', 'status'], {
        out: (l) => out.push(l),
        err: () => undefined,
        env: {
          AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: nucleus.socketPath,
          SVCUID: svcuid,
          AWS_IOT_THING_NAME: NODE,
        },
      });
      assert.equal(exitCode, 0);
      assert.equal((JSON.parse(out.join('')) as { thingName: string }).thingName, NODE);
    });
  });
});
