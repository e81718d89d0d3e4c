import assert from 'node:assert/strict';

import { hasErrorCode } from '../../components/common/errors.ts';
import { configFromArgs, parseEndpoint } from '../../scripts/run-monitor.ts';

describe('scripts/run-monitor', () => {
  describe('parseEndpoint', () => {
    const cases: readonly { input: string; expected: { address: string; port?: number } }[] = [
      { input: '127.0.0.10:7700', expected: { address: '127.0.0.10', port: 7700 } },
      { input: 'dataplane.local:9000', expected: { address: 'dataplane.local', port: 9000 } },
      { input: '[::1]:7700', expected: { address: '::1', port: 7700 } },
      { input: '10.0.0.1', expected: { address: '10.0.0.1', port: 7700 } },
    ];
    for (const { input, expected } of cases) {
      it(`reads ${input}`, () => {
        assert.deepEqual(parseEndpoint(input, 7700), expected);
      });
    }
  });

  describe('configFromArgs', () => {
    it('turns the flags into a validated synthetic configuration', () => {
      const { config, printReports } = configFromArgs([
        '--node-id',
        '2',
        '--data-plane',
        '127.0.0.10:7700',
        '--source-address',
        '127.0.0.2',
        '--period-ms',
        '50',
        '--advice-forward',
        '127.0.0.2:7710',
        '--synthetic',
        '{"cpu":{"shape":"constant","percent":90}}',
      ]);
      assert.equal(printReports, false);
      assert.deepEqual(config, {
        nodeId: 2,
        periodMs: 50,
        smoothingTimeConstantMs: 500,
        source: { kind: 'synthetic', cpu: { shape: 'constant', percent: 90 } },
        dataPlane: { address: '127.0.0.10', port: 7700, sourceAddress: '127.0.0.2' },
        adviceForward: { address: '127.0.0.2', port: 7710 },
        publishLocalTopic: false,
        inflightRequests: 0,
      });
    });

    it('measures the host by default', () => {
      assert.deepEqual(configFromArgs(['--node-id', '1']).config.source, { kind: 'host' });
    });

    it('rejects a bad synthetic profile with the schema path', () => {
      assert.throws(
        () => configFromArgs(['--node-id', '1', '--synthetic', '{"cpu":{"shape":"sine"}}']),
        (err: Error) => hasErrorCode(err, 'ERR_CONFIG_INVALID') && err.message.includes('/source/cpu'),
      );
    });
  });
});
