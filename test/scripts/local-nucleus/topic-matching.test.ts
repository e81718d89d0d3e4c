import assert from 'node:assert/strict';

import {
  hasMqttWildcard,
  mqttFilterMatches,
  resourceMatches,
  type ResourceLookup,
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
    const cases: [policy: string, requested: string, lookup: ResourceLookup, expected: boolean][] = [
      ['*', 'any/topic', 'standard', true],
      ['a/*', 'a/b/c', 'standard', true],
      ['a/*/c', 'a/x/y/c', 'standard', true],
      ['a/+', 'a/b', 'standard', false],
      ['a/+', 'a/+', 'standard', true],
      ['a/b', 'a/b', 'standard', true],
      ['a.b', 'aXb', 'standard', false],
      ['a/+', 'a/b', 'mqtt', true],
      ['a/+', 'a/b/c', 'mqtt', false],
      ['a/+/c', 'a/b/c', 'mqtt', true],
      ['a/#', 'a', 'mqtt', true],
      ['a/#', 'a/b/c', 'mqtt', true],
      ['a/#', 'a/+', 'mqtt', true],
      ['#', 'x/y', 'mqtt', true],
      ['a+/b', 'ax/b', 'mqtt', false],
      ['a+/b', 'a+/b', 'mqtt', true],
      ['a/b#', 'a/bc', 'mqtt', false],
      ['a/*', 'a/b/c', 'mqtt', true],
    ];
    for (const [policy, requested, lookup, expected] of cases) {
      it(`${lookup} policy ${policy} against ${requested} is ${String(expected)}`, () => {
        assert.equal(resourceMatches(policy, requested, lookup), expected, `${lookup} lookup of ${policy}`);
      });
    }
  });
});
