import assert from 'node:assert/strict';

import { hasErrorCode } from '../../../components/common/errors.ts';
import { validateFunctionHostConfig } from '../../../components/function-host/function-host-config.ts';

const service = (name: string, serviceId: number, port: number) => ({
  name,
  serviceId,
  module: `builtin:sample-app/${name}`,
  port,
});

describe('components/function-host/function-host-config', () => {
  it('fills defaults for every field and each service', () => {
    const config = validateFunctionHostConfig({ services: [service('ingest', 1, 7101)] });
    assert.deepEqual(config.services[0], {
      name: 'ingest',
      serviceId: 1,
      module: 'builtin:sample-app/ingest',
      port: 7101,
      options: {},
      listenAddress: '0.0.0.0',
      initialRole: 'owner',
      initialEpoch: 1,
    });
    assert.equal(config.handOverHoldMs, 500);
    assert.deepEqual(config.routes, {});
    assert.ok(Object.isFrozen(config.services), 'the configuration is frozen');
  });

  const rejected: { name: string; input: unknown; reason: RegExp }[] = [
    {
      name: 'two services with one name',
      input: { services: [service('ingest', 1, 7101), service('ingest', 2, 7102)] },
      reason: /two services named ingest/,
    },
    {
      name: 'two services with one serviceId',
      input: { services: [service('ingest', 1, 7101), service('alert', 1, 7102)] },
      reason: /serviceId 1/,
    },
    {
      name: 'two services on one port',
      input: { services: [service('ingest', 1, 7101), service('alert', 2, 7101)] },
      reason: /listening on 0.0.0.0:7101/,
    },
    {
      name: 'a serviceId above 63',
      input: { services: [service('ingest', 64, 7101)] },
      reason: /serviceId must be <= 63/,
    },
    {
      name: 'a route without an epoch',
      input: { routes: { ingest: { address: '10.0.0.2', port: 7101 } } },
      reason: /routes\/ingest must have required property 'epoch'/,
    },
    { name: 'an unknown field', input: { chunkSize: 5 }, reason: /\/ has unknown property 'chunkSize'/ },
  ];
  for (const { name, input, reason } of rejected) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => validateFunctionHostConfig(input),
        (err) => hasErrorCode(err, 'ERR_CONFIG_INVALID') && reason.test((err as Error).message),
      );
    });
  }
});
