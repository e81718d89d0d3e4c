import assert from 'node:assert/strict';

import { DedupeWindow } from '../../../components/function-host/dedupe-window.ts';
import { StateStore } from '../../../components/function-host/state-store.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('components/function-host/dedupe-window', () => {
  it('finds the reply of a recorded id under its key only', () => {
    const window = new DedupeWindow(new StateStore().namespace('dedupe'), 4);
    window.record('k', 'c:1', bytes('reply-1'));
    assert.deepEqual(window.find('k', 'c:1'), bytes('reply-1'));
    assert.equal(window.find('other', 'c:1'), undefined, 'ids are remembered per key');
    assert.equal(window.find('k', 'c:2'), undefined);
  });

  it('forgets the oldest ids of a key beyond entriesPerKey, and keeps its store entries bounded', () => {
    const store = new StateStore();
    const window = new DedupeWindow(store.namespace('dedupe'), 2);
    for (let i = 1; i <= 5; i += 1) window.record('k', `c:${i}`, bytes(`reply-${i}`));
    assert.equal(window.find('k', 'c:3'), undefined, 'c:3 fell out of the window');
    assert.deepEqual(window.find('k', 'c:5'), bytes('reply-5'));
    assert.equal(store.keyCount('dedupe'), 3, 'two replies and the index');
  });

  it('cannot confuse a key and id pair with another that concatenates the same', () => {
    const window = new DedupeWindow(new StateStore().namespace('dedupe'), 4);
    window.record('ab', 'c', bytes('first'));
    assert.equal(window.find('a', 'bc'), undefined);
  });

  it('travels with the state store: a copy finds what the original recorded', () => {
    const source = new StateStore();
    new DedupeWindow(source.namespace('dedupe'), 4).record('k', 'c:1', bytes('reply-1'));
    const target = new StateStore();
    const snapshot = source.beginSnapshot(1024);
    target.importChunk(snapshot.readChunk(0));
    assert.deepEqual(new DedupeWindow(target.namespace('dedupe'), 4).find('k', 'c:1'), bytes('reply-1'));
  });
});
