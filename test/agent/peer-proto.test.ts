import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { buildPeerCodecs, PEER_PROTO_PATH } from '../../agent/peer-proto.ts';

describe('agent/peer-proto', () => {
  it('builds the request and response codecs of every rpc in the .proto', () => {
    const rpcs = [...readFileSync(PEER_PROTO_PATH, 'utf8').matchAll(/^\s*rpc (\w+)\(/gm)].map(
      (match) => match[1],
    );
    assert.ok(rpcs.includes('TakeOver'), 'the freeze-window call is among them');
    assert.deepEqual(buildPeerCodecs().sort(), rpcs.sort());
  });
});
