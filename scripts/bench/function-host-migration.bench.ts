// Benchmark of one live migration of the sample application's sensor-stats between two function hosts
// in this process, driven through their control handlers the way the peer agent drives them (snapshot
// in 256 KiB chunks as the agent sends them, up to three deltas, freeze with the last delta, activate,
// option-1 routes, hand-over), while the open-loop load generator sends 400 readings/s through ingest.
// For 1 MiB and 64 MiB of state (8 MiB quick): freeze window, requests lost / duplicated / wrong, p99 of
// the requests sent during the move over the p99 of those before and after it.
// No gRPC, no IPC and no rate ceiling: the function host's own share of a migration.
import { createLogger } from '../../components/common/logger.ts';
import type {
  FunctionHostConfig,
  ServiceConfig,
} from '../../components/function-host/function-host-config.ts';
import { startFunctionHost, type FunctionHost } from '../../components/function-host/function-host.ts';
import { SAMPLE_APP_FUNCTIONS } from '../../components/sample-app/index.ts';
import { sensorWindowBytes } from '../../components/sample-app/sensor-window.ts';
import { LoadGenerator } from '../loadgen/load-generator.ts';
import { counterStateChecker } from '../loadgen/reply-checker.ts';
import type { Benchmark, Metrics } from './harness.ts';

const MIB = 1 << 20;
const CHUNK_BYTES = 256 * 1024;
const WINDOW_LENGTH = 32;
const KEY_BYTES = 2048;
const RATE_HZ = 400;
const MIGRATE_AT_MS = 2000;
const SETTLE_AFTER_MS = 2000;
const WARM_UP_MS = 1000;

const logger = createLogger('bench', { level: 'silent' });

function service(name: string, serviceId: number, role: 'owner' | 'standby', options = {}): ServiceConfig {
  const module = `builtin:sample-app/${name}`;
  return {
    name,
    serviceId,
    module,
    options,
    listenAddress: '127.0.0.1',
    port: 0,
    initialRole: role,
    initialEpoch: 1,
  };
}

function hostConfig(nodeName: string, services: ServiceConfig[], serviceAddresses = {}): FunctionHostConfig {
  return {
    nodeName,
    advertiseAddress: '127.0.0.1',
    services,
    serviceAddresses,
    routes: {},
    maxBufferedRequests: 10_000,
    dedupeEntriesPerKey: 16,
    stateCheckpointDir: '',
    drainTimeoutMs: 0,
    handOverHoldMs: 500,
    callTimeoutMs: 500,
    callAttempts: 3,
    maxChunkBytes: 4 * MIB,
  };
}

/** What the agent does for one move, timed; returns the freeze window (freeze to hand-over done). */
async function migrate(a: FunctionHost, b: FunctionHost, load: LoadGenerator): Promise<number> {
  const ref = { service: 'sensor-stats', migrationId: 'bench-1' };
  const timeoutMs = 120_000;
  load.mark('migration start');
  const exported = await a.control.call({ op: 'beginExport', ...ref, chunkBytes: CHUNK_BYTES }, timeoutMs);
  await b.control.call({ op: 'beginImport', ...ref, epoch: 2 }, timeoutMs);
  for (let index = 0; index < exported.chunkCount; index += 1) {
    const { data } = await a.control.call({ op: 'readExportChunk', ...ref, index }, timeoutMs);
    await b.control.call({ op: 'importChunk', ...ref, index, data }, timeoutMs);
  }
  for (let round = 0; round < 3; round += 1) {
    const { delta } = await a.control.call({ op: 'nextDelta', ...ref }, timeoutMs);
    await b.control.call({ op: 'importDelta', ...ref, delta }, timeoutMs);
    if (delta.byteLength < 64 * 1024) break;
  }
  load.mark('freeze');
  const freezeStartMs = performance.now();
  const frozen = await a.control.call({ op: 'freeze', ...ref }, timeoutMs);
  const activated = await b.control.call(
    { op: 'activate', ...ref, epoch: 2, ...(frozen.finalDelta ? { delta: frozen.finalDelta } : {}) },
    timeoutMs,
  );
  if (activated.stateChecksum !== frozen.stateChecksum)
    throw new Error('target state differs from the source');
  const owner = b.server.serviceAddress('sensor-stats');
  for (const host of [a, b])
    await host.control.call({ op: 'setRoute', service: 'sensor-stats', owner, epoch: 2 }, timeoutMs);
  await a.control.call({ op: 'handOver', ...ref, epoch: 2, newOwner: owner }, timeoutMs);
  const freezeWindowMs = performance.now() - freezeStartMs;
  load.mark('cutover');
  await a.control.call({ op: 'dropState', ...ref }, timeoutMs);
  return freezeWindowMs;
}

async function measure(stateBytes: number, label: string): Promise<Metrics> {
  const statsOptions = {
    windowLength: WINDOW_LENGTH,
    paddingBytesPerKey: KEY_BYTES - sensorWindowBytes(WINDOW_LENGTH, 0),
    prefillKeys: Math.ceil(stateBytes / KEY_BYTES),
  };
  const options = { builtins: SAMPLE_APP_FUNCTIONS, logger };
  const a = await startFunctionHost(
    hostConfig('node-a', [
      service('ingest', 1, 'owner'),
      service('sensor-stats', 2, 'owner', statsOptions),
      service('alert', 3, 'owner'),
    ]),
    options,
  );
  const b = await startFunctionHost(
    hostConfig('node-b', [service('sensor-stats', 2, 'standby', statsOptions)], {
      alert: a.server.serviceAddress('alert'),
    }),
    options,
  );
  try {
    const ingest = a.server.serviceAddress('ingest');
    const stop = new AbortController();
    const load = new LoadGenerator({
      target: { host: ingest.address, port: ingest.port },
      service: 'ingest',
      rateHz: RATE_HZ,
      // Ended by `stop` once the migration has settled, however long the transfer took.
      durationMs: 600_000,
      signal: stop.signal,
      keyCount: 200,
      bucketMs: 20,
      replyDeadlineMs: 5000,
      checkState: counterStateChecker(),
    });
    const running = load.run();
    await new Promise((resolve) => setTimeout(resolve, MIGRATE_AT_MS));
    const freezeWindowMs = await migrate(a, b, load);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_AFTER_MS));
    stop.abort();
    const report = await running;
    const at = (label: string): number => report.markers.find((marker) => marker.label === label)?.atMs ?? 0;
    // Pooled p99 of the requests sent during the move against those sent before and after it; the
    // first second (JIT, sockets) is left out.
    const moveStartMs = at('migration start');
    const moveEndMs = at('cutover') + 500;
    const endMs = report.buckets.length * report.bucketMs;
    const windowP99Ms = load.latencyWithin([{ startMs: moveStartMs, endMs: moveEndMs }]).p99Ms;
    const steadyP99Ms = load.latencyWithin([
      { startMs: WARM_UP_MS, endMs: moveStartMs },
      { startMs: moveEndMs, endMs },
    ]).p99Ms;
    return {
      [`freezeWindowMs${label}`]: freezeWindowMs,
      [`lostRequests${label}`]: report.totals.lost,
      [`duplicatedRequests${label}`]: report.totals.duplicates,
      [`wrongStateReplies${label}`]: report.totals.wrongState,
      [`steadyP99Ms${label}`]: steadyP99Ms,
      [`migrationWindowP99Ms${label}`]: windowP99Ms,
      [`p99WindowOverSteady${label}`]: steadyP99Ms > 0 ? windowP99Ms / steadyP99Ms : 0,
    };
  } finally {
    await a.close();
    await b.close();
  }
}

export const benchmark: Benchmark = {
  name: 'function-host-migration',
  description:
    'sensor-stats moved between two in-process function hosts under 400 req/s: freeze window, loss, p99',
  run: async ({ isQuick }) => ({
    ...(await measure(MIB, '1MiB')),
    ...(await measure((isQuick ? 8 : 64) * MIB, isQuick ? '8MiB' : '64MiB')),
  }),
};
