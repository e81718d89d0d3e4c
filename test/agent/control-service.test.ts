import assert from 'node:assert/strict';

import { handleControlRequest, parseControlRequest } from '../../agent/control-service.ts';
import { agentControlTopic } from '../../components/common/agent-control-contract.ts';
import type { MigrationResult } from '../../agent/migration/source-migration.ts';
import type { AgentStatus } from '../../agent/peer-agent.ts';
import type { EdgeShiftError } from '../../components/common/errors.ts';
import { STATEFUL, startTwoNodes } from './support/two-node-harness.ts';

describe('agent/control-service', () => {
  it('serves on edgeshift/agent/<thingName>/control', () => {
    assert.equal(agentControlTopic('thing-a'), 'edgeshift/agent/thing-a/control');
  });

  describe('parseControlRequest', () => {
    const accepted: ReadonlyArray<readonly [unknown, unknown]> = [
      [{ op: 'status' }, { op: 'status' }],
      [
        { op: 'migrate', service: 's' },
        { op: 'migrate', service: 's', wait: true },
      ],
      [
        { op: 'migrate', service: 's', targetNodeId: 'node-b', wait: false },
        { op: 'migrate', service: 's', targetNodeId: 'node-b', wait: false },
      ],
      [
        { op: 'pull', service: 's', fromNodeId: 'node-a' },
        { op: 'pull', service: 's', fromNodeId: 'node-a' },
      ],
    ];
    for (const [input, expected] of accepted) {
      it(`accepts ${JSON.stringify(input)}`, () => assert.deepEqual(parseControlRequest(input), expected));
    }
    const refused: ReadonlyArray<readonly [unknown, RegExp]> = [
      [null, /not a JSON object/],
      [{ op: 'explode' }, /op must be status, migrate, pull or drain, instead got 'explode'/],
      [{ op: 'migrate' }, /service is required/],
      [{ op: 'migrate', service: 's', wait: 'yes' }, /wait must be a boolean/],
      [{ op: 'pull', service: '' }, /service must be a non-empty string/],
    ];
    for (const [input, message] of refused) {
      it(`refuses ${JSON.stringify(input)}`, () => {
        assert.throws(
          () => parseControlRequest(input),
          (err: EdgeShiftError) => err.code === 'ERR_PEER_BAD_MESSAGE' && message.test(err.message),
        );
      });
    }
  });

  describe('handleControlRequest', function () {
    this.timeout(60_000);

    it('migrates now and answers the result, then reports it in the status', async () => {
      const nodes = await startTwoNodes({ cutover: 'reconfiguration' });
      try {
        const result = (await handleControlRequest(
          nodes.agentA,
          parseControlRequest({ op: 'migrate', service: STATEFUL.name }),
        )) as MigrationResult;
        assert.equal(result.outcome, 'committed');
        const status = (await handleControlRequest(nodes.agentA, { op: 'status' })) as AgentStatus;
        assert.equal(status.nodeId, 'node-a');
        assert.equal(status.functions.find((entry) => entry.service === STATEFUL.name)?.role, 'forwarding');
        assert.equal(status.lastResults[0]?.migrationId, result.migrationId);
      } finally {
        await nodes.close();
      }
    });
  });
});
