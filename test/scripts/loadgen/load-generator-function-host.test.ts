// The load generator against the real function host running the sample application (ingest →
// sensor-stats → alert), over UDP on loopback: the generator's counter check must agree with what the application
// reports, and a clean run must show no fault. This is the pairing the end-to-end migration tests use.
import assert from 'node:assert/strict';
import { createLogger } from '../../../components/common/logger.ts';
import { startFunctionHost } from '../../../components/function-host/function-host.ts';
import type { FunctionHost } from '../../../components/function-host/function-host.ts';
import type {
  FunctionHostConfig,
  ServiceConfig,
} from '../../../components/function-host/function-host-config.ts';
import { SAMPLE_APP_FUNCTIONS } from '../../../components/sample-app/index.ts';
import { LoadGenerator } from '../../../scripts/loadgen/load-generator.ts';
import { counterStateChecker } from '../../../scripts/loadgen/reply-checker.ts';

function service(name: string, serviceId: number): ServiceConfig {
  return {
    name,
    serviceId,
    module: `builtin:sample-app/${name}`,
    options: {},
    listenAddress: '127.0.0.1',
    port: 0,
    initialRole: 'owner',
    initialEpoch: 1,
  };
}

const CONFIG: FunctionHostConfig = {
  nodeName: 'node-a',
  advertiseAddress: '127.0.0.1',
  services: [service('ingest', 1), service('sensor-stats', 2), service('alert', 3)],
  serviceAddresses: {},
  routes: {},
  maxBufferedRequests: 10_000,
  dedupeEntriesPerKey: 16,
  stateCheckpointDir: '',
  drainTimeoutMs: 0,
  handOverHoldMs: 5_000,
  callTimeoutMs: 1000,
  callAttempts: 2,
  maxChunkBytes: 1 << 20,
};

describe('load-generator against the function host', function () {
  this.timeout(30_000);
  let host: FunctionHost | undefined;

  afterEach(async () => {
    await host?.close();
    host = undefined;
  });

  it('sees every reply of the chain once, with the per-sensor count sensor-stats keeps', async () => {
    host = await startFunctionHost(CONFIG, {
      builtins: SAMPLE_APP_FUNCTIONS,
      logger: createLogger('test', { level: 'silent' }),
    });
    const report = await new LoadGenerator({
      target: { host: '127.0.0.1', port: host.server.serviceAddress('ingest').port },
      service: 'ingest',
      rateHz: 200,
      durationMs: 1000,
      keyCount: 20,
      replyDeadlineMs: 2000,
      lingerMs: 100,
      checkState: counterStateChecker(),
    }).run();
    const { sent, replied, lost, duplicates, wrongState, errors } = report.totals;
    assert.deepEqual(
      { sent, replied, lost, duplicates, wrongState, errors },
      { sent: 200, replied: 200, lost: 0, duplicates: 0, wrongState: 0, errors: 0 },
      `a clean run is clean: ${JSON.stringify(report.faults.slice(0, 3))}`,
    );
    assert.deepEqual(report.nodes, { 'node-a': 200 }, 'the owner answered every request');
  });
});
