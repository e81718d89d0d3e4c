import assert from 'node:assert/strict';

import { hasErrorCode } from '../../../components/common/errors.ts';
import { createLogger } from '../../../components/common/logger.ts';
import type { FunctionHostConfig } from '../../../components/function-host/function-host-config.ts';
import { startFunctionHost, type FunctionHost } from '../../../components/function-host/function-host.ts';
import { classify } from '../../../components/sample-app/alert.ts';
import { SAMPLE_APP_FUNCTIONS } from '../../../components/sample-app/index.ts';
import { normaliseReading } from '../../../components/sample-app/ingest.ts';
import type { SensorStatsResult } from '../../../components/sample-app/sensor-stats.ts';
import { sensorWindowBytes } from '../../../components/sample-app/sensor-window.ts';
import { UdpTestClient } from '../function-host/helpers/udp-client.ts';

function chainConfig(sensorStatsOptions: Record<string, unknown>): FunctionHostConfig {
  const service = (name: string, serviceId: number, options: Record<string, unknown> = {}) => ({
    name,
    serviceId,
    module: `builtin:sample-app/${name}`,
    options,
    listenAddress: '127.0.0.1',
    port: 0,
    initialRole: 'owner' as const,
    initialEpoch: 1,
  });
  return {
    nodeName: 'node-a',
    advertiseAddress: '',
    services: [service('ingest', 1), service('sensor-stats', 2, sensorStatsOptions), service('alert', 3)],
    serviceAddresses: {},
    routes: {},
    maxBufferedRequests: 1000,
    dedupeEntriesPerKey: 16,
    stateCheckpointDir: '',
    drainTimeoutMs: 0,
    handOverHoldMs: 500,
    callTimeoutMs: 2000,
    callAttempts: 2,
    maxChunkBytes: 1 << 20,
  };
}

describe('components/sample-app', () => {
  describe('normaliseReading', () => {
    const cases: { name: string; body: unknown; celsius?: number }[] = [
      { name: '21.5 C', body: { sensorId: 's1', value: 21.5 }, celsius: 21.5 },
      { name: '212 F', body: { sensorId: 's1', value: 212, unit: 'F' }, celsius: 100 },
      { name: '273.15 K', body: { sensorId: 's1', value: 273.15, unit: 'K' }, celsius: 0 },
      { name: 'NaN value', body: { sensorId: 's1', value: Number.NaN } },
      { name: 'unknown unit', body: { sensorId: 's1', value: 1, unit: 'R' } },
      { name: 'empty sensorId', body: { sensorId: '', value: 1 } },
      { name: 'no body', body: null },
    ];
    for (const { name, body, celsius } of cases) {
      it(name, () => {
        if (celsius === undefined) {
          assert.throws(
            () => normaliseReading(body),
            (err) => hasErrorCode(err, 'ERR_APP_BAD_READING'),
          );
        } else {
          assert.equal(normaliseReading(body).celsius, celsius);
        }
      });
    }
  });

  describe('classify', () => {
    const cases: [number, string][] = [
      [0, 'normal'],
      [1.99, 'normal'],
      [2, 'warning'],
      [-2.5, 'warning'],
      [3, 'critical'],
      [-10, 'critical'],
    ];
    for (const [zScore, severity] of cases) {
      it(`z-score ${zScore} is ${severity}`, () => assert.equal(classify(zScore, 2, 3), severity));
    }
  });

  describe('the chain ingest -> sensor-stats -> alert on one host', () => {
    let host: FunctionHost | undefined;
    let client: UdpTestClient | undefined;
    afterEach(async () => {
      client?.close();
      await host?.close();
      client = undefined;
      host = undefined;
    });

    it('counts readings per sensor and flags a spike as critical', async () => {
      host = await startFunctionHost(chainConfig({ windowLength: 8 }), {
        builtins: SAMPLE_APP_FUNCTIONS,
        logger: createLogger('test', { level: 'silent' }),
      });
      client = await UdpTestClient.open();
      const readings = [20, 20.5, 19.5, 20, 20.5, 19.5, 20, 80];
      for (const [index, value] of readings.entries()) {
        client.send(host.server.serviceAddress('ingest'), {
          id: `r:${index}`,
          service: 'ingest',
          key: 'room-1',
          body: { sensorId: 'room-1', value },
        });
        await client.waitForReplies(index + 1);
      }
      const bodies = client.replies.map((r) => r.reply.body as SensorStatsResult);
      assert.deepEqual(
        bodies.map((b) => b.count),
        [1, 2, 3, 4, 5, 6, 7, 8],
        'count of readings seen for the sensor',
      );
      assert.deepEqual(
        bodies.slice(0, 7).map((b) => b.severity),
        Array(7).fill('normal'),
      );
      assert.equal(bodies[7]?.severity, 'critical', 'a jump of 60 °C over a steady window is an anomaly');
      assert.match(
        bodies[7]?.message ?? '',
        /^room-1: 80\.00 °C is \d+\.\d standard deviations from its recent mean$/,
      );
      const stats = host.server.runtime('sensor-stats').summary();
      assert.equal(stats.stateKeys, 1);
      assert.equal(host.server.runtime('ingest').summary().stateKeys, 0, 'ingest is stateless');
    });

    it('answers a bad reading with ERR_APP_BAD_READING', async () => {
      host = await startFunctionHost(chainConfig({}), {
        builtins: SAMPLE_APP_FUNCTIONS,
        logger: createLogger('test', { level: 'silent' }),
      });
      client = await UdpTestClient.open();
      client.send(host.server.serviceAddress('ingest'), {
        id: 'r:1',
        service: 'ingest',
        key: 'x',
        body: { sensorId: 'x', value: 'hot' },
      });
      const [received] = await client.waitForReplies(1);
      assert.equal(received?.reply.error?.code, 'ERR_APP_BAD_READING');
    });

    it('prefills keys so the state size is prefillKeys x (key + window + padding)', async () => {
      host = await startFunctionHost(
        chainConfig({ windowLength: 16, paddingBytesPerKey: 1000, prefillKeys: 500 }),
        {
          builtins: SAMPLE_APP_FUNCTIONS,
          logger: createLogger('test', { level: 'silent' }),
        },
      );
      const summary = host.server.runtime('sensor-stats').summary();
      assert.equal(summary.stateKeys, 500);
      const keyBytes = Array.from({ length: 500 }, (_, i) => `prefill-${i}`.length).reduce(
        (a, b) => a + b,
        0,
      );
      assert.equal(summary.stateBytes, keyBytes + 500 * sensorWindowBytes(16, 1000));
    });
  });
});
