// Test certificates for the agent tests: one CA with node-a, node-b and node-c (node-c is signed but
// not a configured peer), and a second, unrelated CA with its own node-a. Generated once per mocha
// process into a temporary directory, since RSA key generation costs about a second per key.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { readTlsMaterial, type TlsMaterial } from '../../../agent/peer-tls.ts';
import { generateCertificates } from '../../../scripts/generate-certs.ts';

export interface TestCertificates {
  readonly dir: string;
  readonly nodeA: TlsMaterial;
  readonly nodeB: TlsMaterial;
  readonly nodeC: TlsMaterial;
  /** node-a's name, but signed by another CA. */
  readonly rogueNodeA: TlsMaterial;
}

let cached: Promise<TestCertificates> | undefined;

async function generate(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeshift-agent-certs-'));
  const trusted = await generateCertificates({
    outDir: join(dir, 'trusted'),
    nodeIds: ['node-a', 'node-b', 'node-c'],
  });
  const rogue = await generateCertificates({ outDir: join(dir, 'rogue'), nodeIds: ['node-a'] });
  const material = (caCertPath: string, index: number, set = trusted.nodes): Promise<TlsMaterial> => {
    const node = set[index];
    if (node === undefined) throw new Error(`no certificate ${index}`);
    return readTlsMaterial({ caCertPath, certPath: node.certPath, keyPath: node.keyPath });
  };
  return {
    dir,
    nodeA: await material(trusted.caCertPath, 0),
    nodeB: await material(trusted.caCertPath, 1),
    nodeC: await material(trusted.caCertPath, 2),
    rogueNodeA: await material(rogue.caCertPath, 0, rogue.nodes),
  };
}

export function testCertificates(): Promise<TestCertificates> {
  cached ??= generate();
  return cached;
}
