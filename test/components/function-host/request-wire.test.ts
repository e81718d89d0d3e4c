import assert from 'node:assert/strict';

import { MAX_HAND_OFF_PARTS, MAX_MIRROR_PARTS } from '../../../components/function-host/hand-off-seal.ts';
import { encodeMessage, parseDatagram } from '../../../components/function-host/request-wire.ts';

const part = { service: 'sensor-stats', migrationId: 'm-1', epoch: 2, sealed: 'AAAA', part: 1, parts: 3 };

describe('components/function-host/request-wire', () => {
  it('reads a part of a sealed hand-off', () => {
    assert.deepEqual(parseDatagram(encodeMessage({ handOff: part })), {
      ok: true,
      value: { kind: 'handOff', handOff: part },
    });
  });

  for (const [name, bad] of [
    ['a part number past the last part', { ...part, part: 3 }],
    ['a negative part number', { ...part, part: -1 }],
    ['no part count', { ...part, parts: undefined }],
    ['more parts than a hand-off may have', { ...part, parts: MAX_HAND_OFF_PARTS + 1 }],
  ] as const) {
    it(`refuses a hand-off part with ${name}`, () => {
      const parsed = parseDatagram(Buffer.from(JSON.stringify({ handOff: bad })));
      assert.equal(parsed.ok, false);
      assert.match(parsed.ok ? '' : parsed.reason, /handOff must be part 0\.\.parts-1/);
    });
  }

  const mirror = { ...part, seq: 4 };

  it('reads a part of a mirror, its receipt and a marker that counts mirrors', () => {
    assert.deepEqual(parseDatagram(encodeMessage({ mirror })), {
      ok: true,
      value: { kind: 'mirror', mirror },
    });
    const receipt = { service: 'sensor-stats', epoch: 2, through: 5 };
    assert.deepEqual(parseDatagram(encodeMessage({ mirrorAck: receipt })), {
      ok: true,
      value: { kind: 'mirrorAck', ...receipt },
    });
    const marker = { service: 'sensor-stats', epoch: 2, mirrors: 5 };
    assert.deepEqual(parseDatagram(encodeMessage({ handOverComplete: marker })), {
      ok: true,
      value: { kind: 'handOverComplete', ...marker },
    });
  });

  for (const [name, bad, reason] of [
    ['a mirror with a negative number', { mirror: { ...mirror, seq: -1 } }, /mirror.seq must be/],
    ['a mirror with no number', { mirror: { ...mirror, seq: undefined } }, /mirror.seq must be/],
    [
      'a mirror in more parts than it may have',
      { mirror: { ...mirror, parts: MAX_MIRROR_PARTS + 1 } },
      /mirror must be part 0\.\.parts-1/,
    ],
    ['a receipt with no count', { mirrorAck: { service: 's', epoch: 2 } }, /through must be/],
    ['a receipt with a fractional count', { mirrorAck: { service: 's', epoch: 2, through: 1.5 } }, /through/],
    [
      'a marker with a negative count',
      { handOverComplete: { service: 's', epoch: 2, mirrors: -1 } },
      /mirrors/,
    ],
  ] as const) {
    it(`refuses ${name}`, () => {
      const parsed = parseDatagram(Buffer.from(JSON.stringify(bad)));
      assert.equal(parsed.ok, false);
      assert.match(parsed.ok ? '' : parsed.reason, reason);
    });
  }
});
