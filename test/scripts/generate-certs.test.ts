import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { generateCertificates } from '../../scripts/generate-certs.ts';

describe('scripts/generate-certs', () => {
  it('writes a CA and per-node certificates that the CA signed and that name each node', async function () {
    this.timeout(60_000);
    const outDir = await mkdtemp(join(tmpdir(), 'edgeshift-certs-'));
    const result = await generateCertificates({ outDir, nodeIds: ['node-a', 'node-b'] });
    assert.equal(result.caCertPath, join(outDir, 'ca.crt'), 'the CA goes to <out>/ca.crt');
    assert.deepEqual(
      result.nodes.map((node) => [node.nodeId, node.certPath, node.keyPath]),
      [
        ['node-a', join(outDir, 'node-a.crt'), join(outDir, 'node-a.key')],
        ['node-b', join(outDir, 'node-b.crt'), join(outDir, 'node-b.key')],
      ],
      'one certificate and key per node, named after it',
    );
    const ca = new X509Certificate(await readFile(result.caCertPath));
    assert.ok(ca.ca, 'the CA certificate must be a CA');
    for (const node of result.nodes) {
      const cert = new X509Certificate(await readFile(node.certPath));
      assert.ok(cert.verify(ca.publicKey), `${node.nodeId} must be signed by the CA`);
      assert.ok(cert.checkIssued(ca), `${node.nodeId} must name the CA as issuer`);
      assert.equal(cert.subject, `CN=${node.nodeId}`, 'the common name is the node id');
      assert.equal(cert.checkHost(node.nodeId), node.nodeId, 'the DNS SAN names the node');
      assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1', 'loopback is a valid address for local runs');
      assert.equal((await stat(node.keyPath)).mode & 0o077, 0, 'a private key is readable by its owner only');
    }
  });

  it('refuses a node id that cannot be a file name or a DNS label', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'edgeshift-certs-'));
    await assert.rejects(generateCertificates({ outDir, nodeIds: ['../evil'] }), /node id '\.\.\/evil'/);
  });
});
