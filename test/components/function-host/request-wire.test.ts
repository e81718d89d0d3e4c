import assert from 'node:assert/strict';

import { MAX_HAND_OFF_PARTS } from '../../../components/function-host/hand-off-seal.ts';
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

  const request = {
    id: 'c:7',
    service: 'sensor-stats',
    key: 's-1',
    body: { v: 1 },
    replyTo: { address: '127.0.0.1', port: 4000 },
    hops: 1,
  };
  const copy = { service: 'sensor-stats', epoch: 2, seq: 4, request };

  it('reads the copy of a request waiting in a freeze', () => {
    assert.deepEqual(parseDatagram(encodeMessage({ requestCopy: copy })), {
      ok: true,
      value: { kind: 'requestCopy', epoch: 2, seq: 4, request },
    });
  });

  for (const [name, bad, reason] of [
    ['a negative number', { ...copy, seq: -1 }, /seq must be a non-negative integer/],
    ['no epoch', { ...copy, epoch: undefined }, /requestCopy must be \{service/],
    ['a request with no id', { ...copy, request: { ...request, id: '' } }, /request: id must be/],
    ['a request for another service', { ...copy, request: { ...request, service: 'x' } }, /its service/],
    ['no client to answer', { ...copy, request: { ...request, replyTo: undefined } }, /name replyTo/],
  ] as const) {
    it(`refuses a request copy with ${name}`, () => {
      const parsed = parseDatagram(Buffer.from(JSON.stringify({ requestCopy: bad })));
      assert.equal(parsed.ok, false);
      assert.match(parsed.ok ? '' : parsed.reason, reason);
    });
  }
});
