import assert from 'node:assert/strict';

import {
  ConfigurationStore,
  jsonPointerToKeyPath,
  type ConfigurationChange,
} from '../../../scripts/local-nucleus/configuration-store.ts';

describe('configuration-store', () => {
  let nowMs: number;
  let store: ConfigurationStore;
  let changes: ConfigurationChange[];

  beforeEach(() => {
    nowMs = 1_000_000;
    store = new ConfigurationStore(() => nowMs);
    store.register('c', { a: { x: 1, y: [1, 2] }, b: 'text' });
    changes = [];
    store.on('change', (change) => changes.push(change));
  });

  describe('mergeAt', () => {
    it('merges objects key by key and replaces arrays and leaves', () => {
      assert.equal(store.mergeAt('c', ['a'], { y: [3], z: true }, nowMs + 1), true);
      assert.deepEqual(store.get('c'), { a: { x: 1, y: [3], z: true }, b: 'text' });
      assert.deepEqual(
        changes.map((change) => change.keyPath),
        [
          ['a', 'y'],
          ['a', 'z'],
        ],
        'one change per changed or added leaf, none for unchanged x',
      );
    });

    it('replaces a leaf addressed by its own key path', () => {
      assert.equal(store.mergeAt('c', ['b'], 'new', nowMs + 1), true);
      assert.equal(store.get('c').b, 'new');
    });

    it('creates a missing container', () => {
      store.mergeAt('c', ['n', 'm'], { k: 1 }, nowMs + 1);
      assert.deepEqual(store.find('c', ['n', 'm', 'k']), { found: true, value: 1 });
    });

    it('refuses, changing nothing, a merge older than a leaf it touches', () => {
      nowMs = 5_000_000;
      store.mergeAt('c', [], { b: 'newer' }, nowMs);
      changes = [];
      assert.equal(store.mergeAt('c', [], { a: { x: 2 }, b: 'older' }, nowMs - 1), false);
      assert.deepEqual(store.get('c'), { a: { x: 1, y: [1, 2] }, b: 'newer' }, 'no partial application');
      assert.deepEqual(changes, [], 'no change events for a refused merge');
    });
  });

  describe('applyDeployment', () => {
    it('resets to defaults first, then merges', () => {
      store.mergeAt('c', ['a'], { x: 9 }, nowMs + 1);
      store.applyDeployment('c', { b: 'merged' }, ['/a/x']);
      assert.deepEqual(store.get('c'), { a: { x: 1, y: [1, 2] }, b: 'merged' });
    });

    it('removes a reset path that has no default and reports the removal', () => {
      store.mergeAt('c', [], { extra: 1 }, nowMs + 1);
      changes = [];
      store.applyDeployment('c', {}, ['/extra']);
      assert.equal(store.find('c', ['extra']).found, false);
      assert.deepEqual(changes, [{ componentName: 'c', keyPath: ['extra'] }]);
    });
  });

  describe('jsonPointerToKeyPath', () => {
    const cases: [string, string[]][] = [
      ['', []],
      ['/', []],
      ['/a/b', ['a', 'b']],
      ['/a~1b/c~0d', ['a/b', 'c~d']],
    ];
    for (const [pointer, keyPath] of cases) {
      it(`splits "${pointer}"`, () => {
        assert.deepEqual(jsonPointerToKeyPath(pointer), keyPath, 'RFC 6901 unescaping');
      });
    }
  });

  it('throws ERR_NUCLEUS_UNKNOWN_COMPONENT for an unregistered component', () => {
    assert.throws(() => store.get('nope'), { code: 'ERR_NUCLEUS_UNKNOWN_COMPONENT' });
  });
});
