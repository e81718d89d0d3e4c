// The peer agents against the real function host (components/function-host, in process, reached
// through its FunctionHostControl handlers) and real request datagrams on 127.0.0.1, while an
// open-loop client keeps sending: the end-to-end check of the contract in function-host-api.ts.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';

import { systemClock } from '../../components/common/clock.ts';
import { DataPlaneLink } from '../../components/common/data-plane-link.ts';
import { UdpCutoverNotifier, type CutoverNotifier } from '../../agent/cutover/cutover-notifier.ts';
import type { CutoverKind } from '../../agent/cutover/cutover-method.ts';
import { PeerAgent } from '../../agent/peer-agent.ts';
import { createLogger } from '../../components/common/logger.ts';
import type { UdpAddress } from '../../components/function-host/function-host-api.ts';
import type { FunctionHostConfig } from '../../components/function-host/function-host-config.ts';
import { startFunctionHost, type FunctionHost } from '../../components/function-host/function-host.ts';
import type { FunctionModule } from '../../components/function-host/function-loader.ts';
import {
  encodeMessage,
  parseReply,
  type FunctionReply,
} from '../../components/function-host/request-wire.ts';
import { FakeDataPlane } from './support/fake-data-plane.ts';
import { TEST_PLACEMENT, TEST_SETTINGS } from './support/two-node-harness.ts';
import { testCertificates } from './support/test-certificates.ts';
import { until } from './support/until.ts';
import { freePort } from '../support/free-port.ts';

const SERVICE = 'counter';
const SERVICE_ID = 5;
const PREFILLED_KEYS = 4000; // ~1 MiB of state

const builtins: Record<string, FunctionModule> = {
  'agent-test/counter': {
    createFunction: () => ({
      name: SERVICE,
      isStateful: true,
      handler: (request, ctx) => {
        const count = (ctx.state.getJson<number>(request.key) ?? 0) + 1;
        ctx.state.putJson(request.key, count);
        return { count };
      },
      initialize: (state) => {
        for (let index = 0; index < PREFILLED_KEYS; index += 1)
          state.putJson(`prefilled-${index}`, 'x'.repeat(240));
      },
    }),
  },
};

function hostConfig(nodeName: string, initialRole: 'owner' | 'standby', port: number): FunctionHostConfig {
  return {
    nodeName,
    advertiseAddress: '127.0.0.1',
    services: [
      {
        name: SERVICE,
        serviceId: SERVICE_ID,
        module: 'builtin:agent-test/counter',
        options: {},
        listenAddress: '127.0.0.1',
        port,
        initialRole,
        initialEpoch: 1,
      },
    ],
    serviceAddresses: {},
    routes: {},
    maxBufferedRequests: 100_000,
    dedupeEntriesPerKey: 64,
    stateCheckpointDir: '',
    drainTimeoutMs: 0,
    handOverHoldMs: 5_000,
    callTimeoutMs: 1_000,
    callAttempts: 2,
    maxChunkBytes: 1 << 20,
  };
}

/** Open loop: one request per millisecond to wherever `target()` points, over `keys` keys. */
class OpenLoopClient {
  readonly sent: { id: string; key: string }[] = [];
  readonly replies: FunctionReply[] = [];
  private readonly socket = dgram.createSocket('udp4');
  private timer?: NodeJS.Timeout;

  constructor(private readonly target: () => UdpAddress) {
    this.socket.on('message', (bytes) => {
      const parsed = parseReply(bytes);
      if (parsed.ok) this.replies.push(parsed.value);
    });
  }

  async start(keys: number): Promise<void> {
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    this.timer = setInterval(() => {
      for (let burst = 0; burst < 2; burst += 1) {
        const index = this.sent.length;
        const request = { id: `c:${index}`, service: SERVICE, key: `sensor-${index % keys}`, body: index };
        this.sent.push(request);
        const { address, port } = this.target();
        this.socket.send(encodeMessage(request), port, address);
      }
    }, 1);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  close(): Promise<void> {
    this.stop();
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

describe('agent/peer-agent with the real function host', function () {
  this.timeout(60_000);

  for (const cutover of ['in-network', 'reconfiguration'] as const satisfies readonly CutoverKind[]) {
    it(`moves a stateful function under open-loop load with no request lost or duplicated (${cutover})`, async () => {
      const certs = await testCertificates();
      const dataPlane = await FakeDataPlane.start();
      dataPlane.setOwner(SERVICE_ID, { nodeId: 1, epoch: 1 });
      const [portA, portB] = [await freePort('udp'), await freePort('udp')];
      const [grpcA, grpcB] = [await freePort('tcp'), await freePort('tcp')];
      const hosts: FunctionHost[] = [
        await startFunctionHost(hostConfig('node-a', 'owner', portA), { builtins }),
        await startFunctionHost(hostConfig('node-b', 'standby', portB), { builtins }),
      ];
      const links: DataPlaneLink[] = [];
      const agents: PeerAgent[] = [];
      const udpNotifier = new UdpCutoverNotifier(createLogger('test:notice'));
      const notices: { to: UdpAddress; epoch: number }[] = [];
      const notifier: CutoverNotifier = {
        notify: (to, notice) => {
          notices.push({ to, epoch: notice.epoch });
          udpNotifier.notify(to, notice);
        },
        close: () => udpNotifier.close(),
      };
      const client = new OpenLoopClient(
        () =>
          cutover === 'in-network' && dataPlane.ownerOf(SERVICE_ID)?.nodeId === 2
            ? { address: '127.0.0.1', port: portB }
            : { address: '127.0.0.1', port: portA }, // option 1: the upstream keeps sending to node-a, which follows its route
      );
      try {
        for (const [index, nodeId] of (['node-a', 'node-b'] as const).entries()) {
          const link = await DataPlaneLink.open({
            dataPlane: { address: '127.0.0.1', port: dataPlane.port },
            listen: { address: '127.0.0.1', port: 0 },
            log: createLogger('test'),
          });
          links.push(link);
          agents.push(
            await PeerAgent.start({
              nodeId,
              nodeNumber: index + 1,
              requestAddress: '127.0.0.1',
              listenAddress: `127.0.0.1:${index === 0 ? grpcA : grpcB}`,
              services: [
                { name: SERVICE, serviceId: SERVICE_ID, port: index === 0 ? portA : portB, cutover },
              ],
              peers: [
                index === 0
                  ? { nodeId: 'node-b', nodeNumber: 2, grpcAddress: `127.0.0.1:${grpcB}` }
                  : { nodeId: 'node-a', nodeNumber: 1, grpcAddress: `127.0.0.1:${grpcA}` },
              ],
              host: hosts[index]!.control,
              tls: index === 0 ? certs.nodeA : certs.nodeB,
              dataPlaneLink: link,
              notifier,
              clock: systemClock,
              log: createLogger(`test:${nodeId}`),
              settings: { ...TEST_SETTINGS, deltaThresholdBytes: 4096 },
              placement: TEST_PLACEMENT,
            }),
          );
        }
        await client.start(200);
        await until(() => client.replies.length > 300, 'the client is served');
        const result = await agents[0]!.migrate(SERVICE, 'node-b');
        await until(
          () => client.sent.length > result.snapshotBytes / 1024 + 600,
          'load continues after the move',
        );
        client.stop();
        await until(() => client.replies.length >= client.sent.length, 'every request is answered');

        assert.equal(
          result.outcome,
          'committed',
          `the move must commit: ${JSON.stringify(result.abortReason)}`,
        );
        assert.ok(result.snapshotBytes > 1_000_000, `a state of ${result.snapshotBytes} bytes moved`);
        const repliesById = new Map<string, FunctionReply[]>();
        for (const reply of client.replies)
          repliesById.set(reply.id, [...(repliesById.get(reply.id) ?? []), reply]);
        const lost = client.sent.filter((request) => !repliesById.has(request.id));
        const duplicated = [...repliesById.values()].filter((replies) => replies.length > 1);
        const failed = client.replies.filter((reply) => !reply.ok);
        assert.deepEqual(lost, [], 'no request lost');
        assert.deepEqual(duplicated, [], 'no request answered twice');
        assert.deepEqual(failed, [], 'every reply is a success');
        // Per key, the counts seen by the client are exactly 1..n: no update lost or applied twice.
        const countsByKey = new Map<string, number[]>();
        for (const request of client.sent) {
          const reply = repliesById.get(request.id)![0]!;
          countsByKey.set(request.key, [
            ...(countsByKey.get(request.key) ?? []),
            (reply.body as { count: number }).count,
          ]);
        }
        for (const [key, counts] of countsByKey) {
          assert.deepEqual(
            [...counts].sort((a, b) => a - b),
            counts.map((_, index) => index + 1),
            `counts of ${key}`,
          );
        }
        assert.deepEqual(
          notices,
          [{ to: { address: '127.0.0.1', port: portA }, epoch: 2 }],
          "node-b's agent told node-a's function host that the cutover was done",
        );
        assert.equal(
          hosts[0]!.server.runtime(SERVICE).noticeHandOvers,
          1,
          "node-a's function host handed over on that notice",
        );
        assert.ok(
          result.serviceFrozenMs > 0 && result.serviceFrozenMs <= result.freezeWindowMs,
          `the service was frozen ${result.serviceFrozenMs} ms, within the ${result.freezeWindowMs} ms window`,
        );
        const servedByB = client.replies.filter((reply) => reply.node === 'node-b');
        assert.ok(
          servedByB.length > 0 && servedByB.every((reply) => reply.epoch === 2),
          'node-b serves at epoch 2',
        );
        process.stdout.write(
          `      ${cutover}: ${client.sent.length} requests, state ${result.snapshotBytes} B, freeze window ${result.freezeWindowMs.toFixed(1)} ms, cutover ${result.cutoverMs.toFixed(1)} ms, total ${result.totalMs.toFixed(0)} ms\n`,
        );
      } finally {
        await client.close();
        for (const agent of agents) await agent.close();
        for (const link of links) await link.close();
        await notifier.close();
        for (const host of hosts) await host.close();
        await dataPlane.close();
      }
    });
  }
});
