import assert from 'node:assert/strict';

import fc from 'fast-check';

import { sha256, SnapshotDigest } from '../../../agent/migration/transfer-digest.ts';

function snapshotDigestOf(chunks: readonly Uint8Array[]): Buffer {
  const digest = new SnapshotDigest();
  for (const chunk of chunks) digest.addChunkDigest(sha256(chunk));
  return digest.digest();
}

describe('agent/migration/transfer-digest', () => {
  it('digests a snapshot over its chunks’ digests in index order', () => {
    const chunks = [Buffer.from('first chunk'), Buffer.from('second chunk')];
    const expected = sha256(Buffer.concat(chunks.map((chunk) => sha256(chunk))));
    assert.deepEqual(snapshotDigestOf(chunks), expected);
  });

  it('tells apart two snapshots whose chunks differ in content, order or number', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 6 }), (chunks) => {
        const digest = snapshotDigestOf(chunks);
        assert.notDeepEqual(snapshotDigestOf([...chunks, new Uint8Array([0])]), digest);
        assert.notDeepEqual(snapshotDigestOf(chunks.slice(1)), digest);
        const reversed = [...chunks].reverse();
        const sameOrder = reversed.every((chunk, index) => Buffer.from(chunk).equals(chunks[index]!));
        if (!sameOrder) assert.notDeepEqual(snapshotDigestOf(reversed), digest);
      }),
    );
  });
});
