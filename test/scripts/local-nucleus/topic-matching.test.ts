import assert from 'node:assert/strict';

import {
  hasMqttWildcard,
  mqttFilterMatches,
  resourceMatches,
} from '../../../scripts/local-nucleus/topic-matching.ts';

describe('topic-matching', () => {
  describe('mqttFilterMatches', () => {
    const cases: [filter: string, topic: string, expected: boolean][] = [
      ['a/b', 'a/b', true],
      ['a/b', 'a/c', false],
      ['a/+', 'a/b', true],
      ['a/+', 'a/b/c', false],
      ['a/+/c', 'a/b/c', true],
      ['+/+', 'a/b', true],
      ['a/#', 'a', true],
      ['a/#', 'a/b/c', true],
      ['#', 'anything/at/all', true],
      ['a/b/#', 'a/c', false],
      ['a/+', 'a/', true],
      ['a', 'a/b', false],
    ];
    for (const [filter, topic, expected] of cases) {
      it(`${filter} against ${topic} is ${String(expected)}`, () => {
        assert.equal(mqttFilterMatches(filter, topic), expected, `MQTT 4.7 matching of ${filter} / ${topic}`);
      });
    }
  });

  describe('hasMqttWildcard', () => {
    it('sees + and # but not *', () => {
      assert.deepEqual(['a/+', 'a/#', 'a/*', 'a/b'].map(hasMqttWildcard), [true, true, false, false]);
    });
  });

  describe('resourceMatches', () => {
    const cases: [policy: string, requested: string, expected: boolean][] = [
      ['*', 'any/topic', true],
      ['a/*', 'a/b/c', true],
      ['a/*/c', 'a/x/y/c', true],
      ['a/b', 'a/b', true],
      ['a.b', 'aXb', false],
      ['a/+', 'a/b', true],
      ['a/+', 'a/+', true],
      ['a/+', 'a/b/c', false],
      ['a/+/c', 'a/b/c', true],
      ['a/#', 'a', true],
      ['a/#', 'a/b/c', true],
      ['a/#', 'a/+', true],
      ['#', 'x/y', true],
      ['a+/b', 'ax/b', false],
      ['a+/b', 'a+/b', true],
      ['a/b#', 'a/bc', false],
    ];
    for (const [policy, requested, expected] of cases) {
      it(`policy ${policy} against ${requested} is ${String(expected)}`, () => {
        assert.equal(resourceMatches(policy, requested), expected, `MQTT-style lookup of ${policy}`);
      });
    }
  });
});
