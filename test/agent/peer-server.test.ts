import assert from 'node:assert/strict';
import net from 'node:net';

import * as grpc from '@grpc/grpc-js';

import { PeerClient } from '../../agent/peer-client.ts';
import { startPeerServer, type PeerHandlers, type PeerServer } from '../../agent/peer-server.ts';
import type { TlsMaterial } from '../../agent/peer-tls.ts';
import { EdgeShiftError } from '../../components/common/errors.ts';
import { testCertificates, type TestCertificates } from './support/test-certificates.ts';

/** Take-overs the handlers were asked for (none of these tests should reach one). */
const takeOvers: string[] = [];

function statusOnlyHandlers(nodeId: string): PeerHandlers {
  const refuse = (): Promise<never> =>
    Promise.reject(new EdgeShiftError('ERR_MIGRATION_UNKNOWN', 'no migration in this test'));
  return {
    prepare: refuse,
    transferState: refuse,
    applyDelta: refuse,
    takeOver: (request) => {
      takeOvers.push(request.migration_id);
      return refuse();
    },
    commit: refuse,
    abort: refuse,
    requestMigration: refuse,
    getStatus: (caller) =>
      Promise.resolve({
        node_id: nodeId,
        migrations: [
          {
            migration_id: 'm-1',
            service: 'svc',
            role: 'target',
            state: 'PREPARING',
            epoch: 3,
            peer_node_id: caller.nodeId,
          },
        ],
      }),
  };
}

describe('agent/peer-server', () => {
  let certs: TestCertificates;
  let server: PeerServer;
  const clients: PeerClient[] = [];

  before(async function () {
    this.timeout(60_000);
    certs = await testCertificates();
    server = await startPeerServer({
      listenAddress: '127.0.0.1:0',
      tls: certs.nodeB,
      handlers: statusOnlyHandlers('node-b'),
      allowedPeerNodeIds: ['node-a'],
      closeGraceMs: 10_000,
    });
  });

  after(async () => {
    for (const client of clients) client.close();
    await server.close();
  });

  function clientWith(tls: TlsMaterial): PeerClient {
    const client = new PeerClient({ peerNodeId: 'node-b', grpcAddress: `127.0.0.1:${server.port}`, tls });
    clients.push(client);
    return client;
  }

  it('answers a peer whose certificate is signed by the CA and names a configured peer', async () => {
    const status = await clientWith(certs.nodeA).getStatus(10_000);
    assert.deepEqual(
      status,
      {
        node_id: 'node-b',
        migrations: [
          {
            migration_id: 'm-1',
            service: 'svc',
            role: 'target',
            state: 'PREPARING',
            epoch: 3,
            peer_node_id: 'node-a',
          },
        ],
      },
      'the status must come back intact and name the caller from its certificate',
    );
  });

  it('refuses a client that presents no certificate', async () => {
    const noCertificate = new grpc.Client(
      `127.0.0.1:${server.port}`,
      grpc.credentials.createSsl(certs.nodeA.caCert),
      {
        'grpc.ssl_target_name_override': 'node-b',
      },
    );
    const result = await new Promise<grpc.ServiceError | null>((resolve) => {
      noCertificate.makeUnaryRequest(
        '/edgeshift.peer.v1.PeerAgent/GetStatus',
        () => Buffer.alloc(0),
        (bytes: Buffer) => bytes,
        {},
        { deadline: Date.now() + 10_000 },
        (err) => resolve(err),
      );
    });
    noCertificate.close();
    assert.ok(result !== null, 'a call without a client certificate must fail');
    assert.equal(result.code, grpc.status.UNAVAILABLE, 'the TLS handshake must be refused');
  });

  it('refuses a client whose certificate comes from another CA', async () => {
    await assert.rejects(
      clientWith(certs.rogueNodeA).getStatus(10_000),
      (err: EdgeShiftError) => err.code === 'ERR_PEER_UNREACHABLE',
      'a certificate from another CA must not get through the handshake',
    );
  });

  it('refuses a client with a valid certificate that names a node not among its peers', async () => {
    await assert.rejects(
      clientWith(certs.nodeC).getStatus(10_000),
      (err: EdgeShiftError) => err.code === 'ERR_PEER_UNKNOWN',
      'node-c is signed by the CA but is not a configured peer of node-b',
    );
  });

  it('refuses to talk to a server whose certificate does not name the expected peer', async () => {
    const client = new PeerClient({
      peerNodeId: 'node-c',
      grpcAddress: `127.0.0.1:${server.port}`,
      tls: certs.nodeA,
    });
    clients.push(client);
    await assert.rejects(
      client.getStatus(10_000),
      (err: EdgeShiftError) => err.code === 'ERR_PEER_UNREACHABLE',
      'node-b answering for node-c must fail server name verification',
    );
  });

  it('runs no take-over for a TakeOver call that ends or is cancelled before its message', async () => {
    const client = clientWith(certs.nodeA);
    const cancelled = client.openTakeOver(10_000);
    cancelled.cancel();
    const raw = new grpc.Client(
      `127.0.0.1:${server.port}`,
      grpc.credentials.createSsl(certs.nodeA.caCert, certs.nodeA.key, certs.nodeA.cert),
      { 'grpc.ssl_target_name_override': 'node-b' },
    );
    const empty = await new Promise<grpc.ServiceError | null>((resolve) => {
      const call = raw.makeClientStreamRequest(
        '/edgeshift.peer.v1.PeerAgent/TakeOver',
        (value: Buffer) => value,
        (bytes: Buffer) => bytes,
        new grpc.Metadata(),
        { deadline: Date.now() + 10_000 },
        (err) => resolve(err),
      );
      call.end();
    });
    raw.close();
    assert.equal(empty?.code, grpc.status.INVALID_ARGUMENT, 'a call with no request is refused');
    assert.match(empty.details, /ended without a request/);
    // A later call on the same connection: the server has seen the cancellation before it.
    await client.getStatus(10_000);
    assert.deepEqual(takeOvers, [], 'neither call reached the take-over handler');
  });

  it('closes by its deadline while a connection has not finished its TLS handshake', async () => {
    const graceful = await startPeerServer({
      listenAddress: '127.0.0.1:0',
      tls: certs.nodeB,
      handlers: statusOnlyHandlers('node-b'),
      allowedPeerNodeIds: ['node-a'],
      closeGraceMs: 200,
    });
    // A peer that connected and then stalled: grpc-js's graceful stop alone waits for it to hang up.
    const stalled = net.connect(graceful.port, '127.0.0.1');
    await new Promise<void>((resolve) => stalled.once('connect', () => resolve()));
    try {
      const isClosed = await Promise.race([
        graceful.close().then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 5_000)),
      ]);
      assert.ok(isClosed, 'close() must end by its 200 ms deadline, not wait for the stalled peer');
    } finally {
      stalled.destroy();
    }
  });
});
