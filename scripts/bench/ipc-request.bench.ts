// Benchmark of the IPC layer (components/common/ipc/) over the local nucleus with the real SDK client:
// sequential request/response round trips through `<topic>/request` and the reply topic (small JSON
// body), a local publish delivered to another component, and a 1 MiB Uint8Array body carried as
// {"$bytes": base64} (the function host's snapshot chunks travel this way). Two components, one process.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { connectIpc, type IpcClient } from '../../components/common/ipc/index.ts';
import { LocalNucleus } from '../local-nucleus/local-nucleus.ts';
import type { Benchmark } from './harness.ts';

const TOPIC = 'edgeshift/bench/rpc';
const ALL_PUBSUB = {
  'aws.greengrass.ipc.pubsub': {
    'bench:pubsub:1': {
      policyDescription: 'benchmark topics',
      operations: ['aws.greengrass#PublishToTopic', 'aws.greengrass#SubscribeToTopic'],
      resources: ['edgeshift/bench/*'],
    },
  },
};

function percentile(sortedMs: readonly number[], fraction: number): number {
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor(sortedMs.length * fraction))] ?? Number.NaN;
}

async function connectAs(nucleus: LocalNucleus, name: string): Promise<IpcClient> {
  const { svcuid } = nucleus.registerComponent({
    name,
    version: '1.0.0',
    configuration: { accessControl: ALL_PUBSUB },
  });
  return connectIpc({ socketPath: nucleus.socketPath, authToken: svcuid });
}

export const benchmark: Benchmark = {
  name: 'ipc-request',
  description:
    'IPC request/response round trip, local publish latency and 1 MiB binary body over the local nucleus',
  async run(context) {
    const requests = context.isQuick ? 200 : 2000;
    const bigRequests = context.isQuick ? 5 : 20;
    const dir = await mkdtemp(path.join(os.tmpdir(), 'edgeshift-bench-ipc-'));
    const nucleus = new LocalNucleus({ socketPath: path.join(dir, 'ipc.socket'), thingName: 'bench' });
    await nucleus.start();
    const server = await connectAs(nucleus, 'com.bench.Server');
    const client = await connectAs(nucleus, 'com.bench.Client');
    try {
      await server.serve(TOPIC, (body) => body);
      const small = { op: 'status', service: 'sensor-stats', epoch: 7 };
      await client.request(TOPIC, small); // warm-up: reply subscription
      const roundTripsMs: number[] = [];
      for (let i = 0; i < requests; i += 1) {
        const startedMs = performance.now();
        await client.request(TOPIC, small);
        roundTripsMs.push(performance.now() - startedMs);
      }
      roundTripsMs.sort((a, b) => a - b);

      const chunk = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
      const bigStartedMs = performance.now();
      for (let i = 0; i < bigRequests; i += 1)
        await client.request(TOPIC, { data: chunk }, { timeoutMs: 30_000 });
      const bigElapsedS = (performance.now() - bigStartedMs) / 1000;

      let deliver: () => void = () => undefined;
      await server.subscribe('edgeshift/bench/publish', () => deliver());
      const publishMs: number[] = [];
      for (let i = 0; i < Math.min(requests, 500); i += 1) {
        const delivered = new Promise<void>((resolve) => (deliver = resolve));
        const startedMs = performance.now();
        await client.publishJson('edgeshift/bench/publish', small);
        await delivered;
        publishMs.push(performance.now() - startedMs);
      }
      publishMs.sort((a, b) => a - b);
      return {
        requestRoundTripP50Ms: percentile(roundTripsMs, 0.5),
        requestRoundTripP99Ms: percentile(roundTripsMs, 0.99),
        publishDeliveryP50Ms: percentile(publishMs, 0.5),
        binaryRequestMiBPerS: (2 * bigRequests) / bigElapsedS, // 1 MiB there and 1 MiB back per request
      };
    } finally {
      await client.close();
      await server.close();
      await nucleus.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
