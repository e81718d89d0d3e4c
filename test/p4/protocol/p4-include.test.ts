import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { P4_INCLUDE_PATH, renderP4Protocol } from '../../../p4/protocol/p4-include.ts';

describe('p4/protocol/p4-include', () => {
  it('matches the committed P4 include (run scripts/generate-p4-protocol.ts after changing the protocol)', async () => {
    const committed = await readFile(new URL(`../../../${P4_INCLUDE_PATH}`, import.meta.url), 'utf8');
    assert.equal(committed, renderP4Protocol(), `${P4_INCLUDE_PATH} is out of date`);
  });

  it('is included by the P4 program, which uses no protocol literal of its own', async () => {
    const program = await readFile(new URL('../../../p4/edgeshift.p4', import.meta.url), 'utf8');
    assert.match(program, /#include "include\/edgeshift_protocol\.p4"/);
    assert.doesNotMatch(program, /0x[eE]5[fF]7|\b7700\b/, 'magic and port must come from the include');
  });
});
