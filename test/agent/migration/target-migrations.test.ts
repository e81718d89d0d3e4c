import assert from 'node:assert/strict';
import { PeerClient } from '../../../agent/peer-client.ts';
import type { StateChunkMessage } from '../../../agent/peer-proto.ts';
import { sha256 } from '../../../agent/migration/transfer-digest.ts';
import type { EdgeShiftError } from '../../../components/common/errors.ts';
import { restartedAsOwner, STATEFUL, startTwoNodes, type TwoNodes } from '../support/two-node-harness.ts';
import { testCertificates } from '../support/test-certificates.ts';
import { until } from '../support/until.ts';

/** Three chunks of a state as the source would send them; `tamper` edits one before sending. */
function chunksOf(
  migrationId: string,
  tamper: (chunks: StateChunkMessage[]) => void = () => undefined,
): StateChunkMessage[] {
  const parts = [Buffer.alloc(1000, 1), Buffer.alloc(1000, 2), Buffer.alloc(500, 3)];
  // The snapshot digest as the protocol defines it: over the chunks' digests, in index order.
  const total = sha256(Buffer.concat(parts.map(sha256)));
  const chunks = parts.map((data, index) => ({
    migration_id: migrationId,
    index,
    data,
    chunk_sha256: sha256(data),
    is_last: index === parts.length - 1,
    total_sha256: index === parts.length - 1 ? total : Buffer.alloc(0),
  }));
  tamper(chunks);
  return chunks;
}

describe('agent/migration/target-migrations', function () {
  this.timeout(60_000);
  let nodes: TwoNodes;
  let client: PeerClient;

  beforeEach(async () => {
    nodes = await startTwoNodes({ cutover: 'in-network' });
    const certs = await testCertificates();
    client = new PeerClient({
      peerNodeId: 'node-b',
      grpcAddress: `127.0.0.1:${nodes.agentB.port}`,
      tls: certs.nodeA,
    });
  });

  afterEach(async () => {
    client.close();
    await nodes.close();
  });

  async function prepare(migrationId: string, epoch = 2): Promise<void> {
    await client.prepare(
      {
        migration_id: migrationId,
        service: STATEFUL.name,
        service_id: STATEFUL.serviceId,
        epoch,
        source_node_id: 'node-a',
        is_stateful: true,
        snapshot_bytes: 2500,
        chunk_count: 3,
        cutover: 'in-network',
      },
      10_000,
    );
  }

  async function send(chunks: readonly StateChunkMessage[]): Promise<unknown> {
    const stream = client.openStateStream(10_000);
    for (const chunk of chunks) await stream.write(chunk);
    return stream.finish();
  }

  it('imports every chunk of a state whose chunk and total checksums match', async () => {
    await prepare('m-good');
    const summary = await send(chunksOf('m-good'));
    assert.deepEqual(
      summary,
      { chunks_received: 3, bytes_received: 2500 },
      'the target counts what it imported',
    );
    assert.deepEqual(
      nodes.hostB.calls.filter((op) => op !== 'listFunctions'),
      ['beginImport', 'importChunk', 'importChunk', 'importChunk'],
      'one beginImport, then one importChunk per chunk',
    );
  });

  const corruptions: ReadonlyArray<readonly [string, (chunks: StateChunkMessage[]) => void, RegExp, number]> =
    [
      [
        'a chunk whose bytes changed on the way',
        (chunks) => {
          chunks[1] = {
            ...chunks[1]!,
            data: Buffer.concat([chunks[1]!.data.subarray(0, 999), Buffer.from([0xff])]),
          };
        },
        /chunk 1 does not match its checksum/,
        1,
      ],
      [
        'a last chunk whose total checksum does not match',
        (chunks) => {
          chunks[2] = { ...chunks[2]!, total_sha256: sha256(Buffer.from('another state')) };
        },
        /the snapshot as a whole does not match its checksum/,
        3,
      ],
    ];
  for (const [name, tamper, message, imported] of corruptions) {
    it(`aborts on ${name} and drops the partial state`, async () => {
      await prepare('m-bad');
      await assert.rejects(
        send(chunksOf('m-bad', tamper)),
        (err: EdgeShiftError) => err.code === 'ERR_MIGRATION_CHECKSUM_MISMATCH' && message.test(err.message),
        'the source must learn that the state was corrupted, and where',
      );
      assert.equal(
        nodes.hostB.calls.filter((op) => op === 'importChunk').length,
        imported,
        'nothing after the bad chunk is imported',
      );
      assert.ok(nodes.hostB.calls.includes('dropState'), 'the target drops what it imported');
      assert.equal(nodes.hostB.role(STATEFUL.name), 'standby', 'the target is back to standby');
      const abort = await client.abort({ migration_id: 'm-bad', reason: 'checksum' }, 10_000);
      assert.deepEqual(abort, { outcome: 'dropped' }, 'a late Abort learns the state was dropped');
    });
  }

  it('refuses a chunk out of order', async () => {
    await prepare('m-order');
    const [first, second, third] = chunksOf('m-order');
    await assert.rejects(
      send([first!, third!, second!]),
      (err: EdgeShiftError) => err.code === 'ERR_PEER_BAD_MESSAGE',
      'chunk 2 where 1 was due must be refused',
    );
  });

  it('refuses a second migration of the same service while one is in progress', async () => {
    await prepare('m-first');
    await assert.rejects(prepare('m-second'), (err: EdgeShiftError) => err.code === 'ERR_MIGRATION_BUSY');
  });

  it('refuses calls for a migration it never prepared', async () => {
    await assert.rejects(
      client.applyDelta(
        {
          migration_id: 'm-none',
          round: 1,
          delta: Buffer.alloc(0),
          delta_sha256: sha256(Buffer.alloc(0)),
        },
        10_000,
      ),
      (err: EdgeShiftError) => err.code === 'ERR_MIGRATION_UNKNOWN',
    );
  });

  it('refuses a take-over before the snapshot was complete (illegal transition)', async () => {
    await prepare('m-early');
    const stream = client.openStateStream(10_000);
    await stream.write(chunksOf('m-early')[0]!);
    await until(() => nodes.hostB.calls.includes('importChunk'), 'the first chunk is imported');
    await assert.rejects(
      client.openTakeOver(10_000).send({
        migration_id: 'm-early',
        epoch: 2,
        final_delta: Buffer.alloc(0),
        final_delta_sha256: sha256(Buffer.alloc(0)),
        expected_state_checksum: '',
        source_request_endpoint: { address: '127.0.0.1', port: STATEFUL.port },
        cutover_notice_token: '',
      }),
      (err: EdgeShiftError) => err.code === 'ERR_MIGRATION_ILLEGAL_TRANSITION',
      'TRANSFERRING_SNAPSHOT -> ACTIVATING is not an edge of the machine',
    );
    stream.cancel();
  });

  it('refuses a move at an epoch it has already seen (fencing on the target)', async () => {
    await assert.rejects(
      prepare('m-stale', 1),
      (err: EdgeShiftError) => err.code === 'ERR_MIGRATION_STALE_EPOCH',
    );
    assert.ok(!nodes.hostB.calls.includes('beginImport'), 'nothing was imported');
  });

  /** node-b's function host claims the service at epoch 1, whatever the data plane says. */
  function ownerOnB(): void {
    restartedAsOwner(nodes.hostB);
  }

  it('refuses a move of a service it already owns', async () => {
    ownerOnB();
    nodes.dataPlane.setOwner(STATEFUL.serviceId, { nodeId: 2, epoch: 1 });
    await assert.rejects(prepare('m-owned'), (err: EdgeShiftError) => err.code === 'ERR_MIGRATION_BUSY');
    assert.equal(nodes.hostB.role(STATEFUL.name), 'owner', 'the owner in force keeps the service');
  });

  it('stands down a function host that came back as owner of a service the data plane gives another node', async () => {
    // node-b's function host restarted in its configured role; node-a has owned the service since.
    ownerOnB();
    nodes.dataPlane.setOwner(STATEFUL.serviceId, { nodeId: 1, epoch: 1 });
    await prepare('m-restarted');
    assert.ok(nodes.hostB.calls.includes('standDown'), 'the stale owner stood down');
    assert.equal(nodes.hostB.role(STATEFUL.name), 'importing', 'and the move into it goes on');
  });
});
