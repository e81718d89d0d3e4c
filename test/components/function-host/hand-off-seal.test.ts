import assert from 'node:assert/strict';

import { hasErrorCode } from '../../../components/common/errors.ts';
import {
  newHandOffKey,
  openHandOff,
  sealHandOff,
  type SealedHandOff,
} from '../../../components/function-host/hand-off-seal.ts';

const ref = { service: 'sensor-stats', migrationId: 'm-1', epoch: 2 };
const content = { stateChecksum: 'sha256sum:00ff', delta: Uint8Array.of(1, 2, 0, 255) };

const refusesToOpen = (key: string, handOff: SealedHandOff): void =>
  assert.throws(
    () => openHandOff(key, handOff),
    (err) => hasErrorCode(err, 'ERR_FNHOST_BAD_HAND_OFF'),
  );

describe('components/function-host/hand-off-seal', () => {
  it('opens what it sealed under the same key and reference', () => {
    const key = newHandOffKey();
    const sealed = sealHandOff(key, ref, content);
    assert.ok(!sealed.sealed.includes(Buffer.from(content.stateChecksum).toString('base64')), 'encrypted');
    assert.deepEqual(openHandOff(key, sealed), content);
  });

  it('refuses another key, another reference and any altered byte', () => {
    const key = newHandOffKey();
    const sealed = sealHandOff(key, ref, content);
    refusesToOpen(newHandOffKey(), sealed);
    refusesToOpen(key, { ...sealed, epoch: 3 });
    refusesToOpen(key, { ...sealed, migrationId: 'm-2' });
    refusesToOpen(key, { ...sealed, service: 'ingest' });
    const bytes = Buffer.from(sealed.sealed, 'base64');
    for (const index of [0, 12, bytes.byteLength - 1]) {
      const altered = Buffer.from(bytes);
      altered[index] = (altered[index] as number) ^ 1;
      refusesToOpen(key, { ...sealed, sealed: altered.toString('base64') });
    }
    refusesToOpen(key, { ...sealed, sealed: 'AAAA' });
  });

  it('takes keys of 64 hex digits only', () => {
    assert.throws(
      () => sealHandOff('ab'.repeat(16), ref, content),
      (err) => hasErrorCode(err, 'ERR_FNHOST_BAD_REQUEST'),
    );
  });
});
