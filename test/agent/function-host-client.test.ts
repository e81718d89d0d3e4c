import assert from 'node:assert/strict';

import { parseReply } from '../../agent/function-host-client.ts';
import { hasErrorCode } from '../../components/common/errors.ts';

describe('agent/function-host-client', () => {
  describe('parseReply', () => {
    for (const outcome of ['activated', 'fenced', 'unknown'] as const) {
      it(`reads a contestImport reply that says ${outcome}`, () => {
        assert.deepEqual(parseReply('contestImport', { outcome }), { outcome });
      });
    }

    it('refuses a contestImport reply with an outcome it does not know', () => {
      assert.throws(
        () => parseReply('contestImport', { outcome: 'maybe' }),
        (err) => hasErrorCode(err, 'ERR_PEER_BAD_MESSAGE') && /outcome/.test((err as Error).message),
      );
    });
  });
});
