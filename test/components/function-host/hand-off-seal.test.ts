import assert from 'node:assert/strict';

import { hasErrorCode } from '../../../components/common/errors.ts';
import fc from 'fast-check';

import {
  HandOffAssembly,
  newHandOffKey,
  openFence,
  openHandOff,
  openMirror,
  sealFence,
  sealHandOff,
  sealMirror,
  splitHandOff,
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

  it('puts a hand-off cut into parts back together in any order, with duplicates, and opens it', () => {
    const key = newHandOffKey();
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.integer({ min: 4, max: 600 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (delta, partChars, resend) => {
          const parts = splitHandOff(sealHandOff(key, ref, { stateChecksum: 'c', delta }), partChars);
          assert.ok(parts.every((part) => part.sealed.length <= partChars || part.sealed.length === 4));
          // Last part first, then the rest in order, some sent twice: whole once the last one is in.
          const order = [parts.length - 1, ...parts.keys(), ...resend.map((n) => n % parts.length)];
          const assembly = new HandOffAssembly(parts[order[0] as number]!);
          const wholes = order.map((index) => assembly.add(parts[index]!));
          const firstWhole = wholes.findIndex((whole) => whole !== undefined);
          assert.equal(firstWhole, parts.length - 1, 'whole with the last missing part, not before');
          assert.deepEqual(openHandOff(key, wholes[firstWhole]!).delta, delta);
        },
      ),
    );
  });

  it('refuses a part of another hand-off', () => {
    const key = newHandOffKey();
    const parts = splitHandOff(sealHandOff(key, ref, { stateChecksum: 'c', delta: new Uint8Array(100) }), 40);
    const assembly = new HandOffAssembly(parts[0]!);
    for (const stranger of [
      { ...parts[1]!, epoch: 3 },
      { ...parts[1]!, parts: parts.length + 1 },
      { ...parts[1]!, part: parts.length },
    ]) {
      assert.throws(
        () => assembly.add(stranger),
        (err) => hasErrorCode(err, 'ERR_FNHOST_BAD_HAND_OFF'),
      );
    }
  });

  it('opens a fence as the word it was sealed with, and never as a hand-off or the other way round', () => {
    const key = newHandOffKey();
    for (const word of ['fence', 'activated', 'fenced'] as const) {
      assert.equal(openFence(key, sealFence(key, ref, word)), word);
      refusesToOpen(key, sealFence(key, ref, word));
    }
    assert.throws(
      () => openFence(key, sealHandOff(key, ref, content)),
      (err) => hasErrorCode(err, 'ERR_FNHOST_BAD_HAND_OFF'),
    );
  });

  it('opens a mirror only under the number it was sealed with, and never as a hand-off', () => {
    const key = newHandOffKey();
    const mirror = {
      delta: Uint8Array.of(9, 0, 9),
      reply: Buffer.from('{"id":"c:1"}'),
      replyTo: { address: '127.0.0.1', port: 4000 },
    };
    assert.deepEqual(openMirror(key, sealMirror(key, ref, 3, mirror), 3), {
      ...mirror,
      reply: new Uint8Array(mirror.reply),
    });
    const badSeal = (err: unknown): boolean => hasErrorCode(err, 'ERR_FNHOST_BAD_HAND_OFF');
    assert.throws(() => openMirror(key, sealMirror(key, ref, 3, mirror), 4), badSeal);
    refusesToOpen(key, sealMirror(key, ref, 3, mirror));
  });
});
