import assert from 'node:assert/strict';

import {
  Authorizer,
  MQTT_PROXY_SERVICE,
  parseAccessControl,
  PUBSUB_SERVICE,
} from '../../../scripts/local-nucleus/authorization.ts';
import { ModeledIpcError } from '../../../scripts/local-nucleus/service-model.ts';

const accessControl = {
  [PUBSUB_SERVICE]: {
    'c:pubsub:1': { operations: ['aws.greengrass#PublishToTopic'], resources: ['out/*'] },
    'c:pubsub:broken': { operations: 'not-a-list', resources: ['x'] },
  },
  [MQTT_PROXY_SERVICE]: { 'c:mqtt:1': { operations: ['*'], resources: ['cloud/+/in'] } },
};

describe('authorization', () => {
  describe('parseAccessControl', () => {
    it('keeps valid policies and skips malformed ones', () => {
      assert.deepEqual(
        parseAccessControl(accessControl).map((policy) => policy.policyId),
        ['c:pubsub:1', 'c:mqtt:1'],
      );
    });

    it('reads nothing from a missing or non-object accessControl', () => {
      assert.deepEqual(parseAccessControl(undefined), []);
      assert.deepEqual(parseAccessControl(['x']), []);
    });
  });

  describe('Authorizer', () => {
    const authorizer = new Authorizer();
    authorizer.setPolicies('c', accessControl);

    it('allows only the listed operation on a matching resource of the same service', () => {
      assert.equal(authorizer.isAllowed(PUBSUB_SERVICE, 'c', 'aws.greengrass#PublishToTopic', 'out/a'), true);
      assert.equal(
        authorizer.isAllowed(PUBSUB_SERVICE, 'c', 'aws.greengrass#SubscribeToTopic', 'out/a'),
        false,
        'an operation not listed is refused',
      );
      assert.equal(
        authorizer.isAllowed(MQTT_PROXY_SERVICE, 'c', 'aws.greengrass#PublishToIoTCore', 'out/a'),
        false,
        'a pubsub policy does not grant mqttproxy',
      );
    });

    it('matches mqttproxy resources MQTT style: + fills exactly one level', () => {
      assert.equal(
        authorizer.isAllowed(MQTT_PROXY_SERVICE, 'c', 'aws.greengrass#PublishToIoTCore', 'cloud/x/in'),
        true,
      );
      assert.equal(
        authorizer.isAllowed(MQTT_PROXY_SERVICE, 'c', 'aws.greengrass#PublishToIoTCore', 'cloud/x/y/in'),
        false,
      );
    });

    it('grants nothing to another principal', () => {
      assert.equal(
        authorizer.isAllowed(PUBSUB_SERVICE, 'd', 'aws.greengrass#PublishToTopic', 'out/a'),
        false,
      );
    });

    it('throws UnauthorizedError with the nucleus message', () => {
      assert.throws(
        () => authorizer.authorize(PUBSUB_SERVICE, 'c', 'aws.greengrass#PublishToTopic', 'in/a'),
        (error: unknown) => {
          assert.ok(error instanceof ModeledIpcError);
          assert.equal(error.shape, 'aws.greengrass#UnauthorizedError');
          assert.equal(
            error.message,
            'Principal c is not authorized to perform aws.greengrass.ipc.pubsub:aws.greengrass#PublishToTopic on resource in/a',
          );
          return true;
        },
      );
    });
  });
});
