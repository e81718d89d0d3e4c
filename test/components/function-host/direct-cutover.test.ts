import assert from 'node:assert/strict';

import { hasErrorCode } from '../../../components/common/errors.ts';
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

  /** node 2's plan against a fake data plane where node 1 owns service 1 at epoch 1. */
  async function start(): Promise<{
    plane: FakeDataPlane;
    claims: DirectCutoverClaims;
    plan: DirectCutover;
  }> {
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
    return { plane, claims, plan };
  }
  const claimOf = (signal: AbortSignal) => ({ migrationId: 'm-1', epoch: 2, from: '127.0.0.1', signal });

  it('opens the CLAIM socket when prepared, and the claim then uses that one', async () => {
    const { plane, claims, plan } = await start();
    claims.prepare(plan, '127.0.0.1');
    assert.equal(claims.linkCount, 1, 'opened before any CLAIM');
    assert.equal(plane.received.length, 0, 'and nothing sent');
    const answer = await claims.claim(plan, claimOf(new AbortController().signal));
    assert.equal(answer, 'accepted');
    assert.equal(claims.linkCount, 1, 'the claim used the prepared socket');
  });

  it('stops resending a withdrawn CLAIM: it rejects, and a data plane that speaks again gives nothing away', async () => {
    const { plane, claims, plan } = await start();
    plane.isSilent = true;
    const withdrawal = new AbortController();
    const claimed = claims.claim(plan, claimOf(withdrawal.signal));
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.ok(plane.received.length >= 2, 'resent while unanswered');
    withdrawal.abort();
    await assert.rejects(claimed, (err) => hasErrorCode(err, 'ERR_MIGRATION_CLAIM_WITHDRAWN'));
    const sent = plane.received.length;
    plane.isSilent = false;
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(plane.received.length, sent, 'no CLAIM after the withdrawal');
    assert.deepEqual(plane.ownerOf(1), { nodeId: 1, epoch: 1 });
  });
});
