import assert from 'node:assert/strict';

import { createLogger } from '../../../components/common/logger.ts';
import { DirectCutoverClaims } from '../../../components/function-host/direct-cutover.ts';
import type { DirectCutover } from '../../../components/function-host/function-host-api.ts';
import { FakeDataPlane } from '../../agent/support/fake-data-plane.ts';

describe('components/function-host/direct-cutover', () => {
  let plane: FakeDataPlane | undefined;
  let claims: DirectCutoverClaims | undefined;
  afterEach(async () => {
    await claims?.close();
    await plane?.close();
  });

  it('opens the CLAIM socket when prepared, and the claim then uses that one', async () => {
    plane = await FakeDataPlane.start();
    plane.setOwner(1, { nodeId: 1, epoch: 1 });
    claims = new DirectCutoverClaims(createLogger('test', { level: 'silent' }));
    const plan: DirectCutover = {
      dataPlane: { address: '127.0.0.1', port: plane.port },
      nodeNumber: 2,
      serviceId: 1,
      notice: { token: '0f'.repeat(16), to: { address: '127.0.0.1', port: 9 } },
      claimTimeoutMs: 2000,
      retransmitMs: 50,
    };
    claims.prepare(plan, '127.0.0.1');
    assert.equal(claims.linkCount, 1, 'opened before any CLAIM');
    assert.equal(plane.received.length, 0, 'and nothing sent');
    const answer = await claims.claim(plan, { migrationId: 'm-1', epoch: 2, from: '127.0.0.1' });
    assert.equal(answer, 'accepted');
    assert.equal(claims.linkCount, 1, 'the claim used the prepared socket');
  });
});
