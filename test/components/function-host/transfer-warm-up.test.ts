import assert from 'node:assert/strict';

import { hasErrorCode } from '../../../components/common/errors.ts';
import { HandOffAssembly } from '../../../components/function-host/hand-off-seal.ts';
import { StateStore } from '../../../components/function-host/state-store.ts';
import { warmUpStateTransfer } from '../../../components/function-host/transfer-warm-up.ts';

describe('components/function-host/transfer-warm-up', () => {
  it('moves a scratch state through snapshot and delta and finds the copy equal', () => {
    assert.doesNotThrow(() => warmUpStateTransfer());
  });

  it('refuses to start when the copy differs from its source', () => {
    const importDelta = Object.getOwnPropertyDescriptor(StateStore.prototype, 'importDelta')!;
    // A delta that is dropped on the floor: the copy keeps the values from before it.
    Object.defineProperty(StateStore.prototype, 'importDelta', { ...importDelta, value: () => 0 });
    try {
      assert.throws(
        () => warmUpStateTransfer(),
        (err) => hasErrorCode(err, 'ERR_MIGRATION_CHECKSUM_MISMATCH') && /self-check/.test(String(err)),
      );
    } finally {
      Object.defineProperty(StateStore.prototype, 'importDelta', importDelta);
    }
  });

  it('refuses to start when a hand-off in parts does not come back whole', () => {
    const add = Object.getOwnPropertyDescriptor(HandOffAssembly.prototype, 'add')!;
    // A part that never arrives: the assembly never completes, and the copy misses the last delta.
    Object.defineProperty(HandOffAssembly.prototype, 'add', { ...add, value: () => undefined });
    try {
      assert.throws(
        () => warmUpStateTransfer(),
        (err) => hasErrorCode(err, 'ERR_MIGRATION_CHECKSUM_MISMATCH'),
      );
    } finally {
      Object.defineProperty(HandOffAssembly.prototype, 'add', add);
    }
  });
});
