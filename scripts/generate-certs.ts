// Writes a test certificate authority and one certificate + key per node for the peer agents' mutual
// TLS (agent/peer-tls.ts reads them). Each node certificate names the node in its CN and DNS SAN and
// is valid for both TLS roles, since an agent is a gRPC server and a client at once.
// Invariant: every node certificate written in one run is signed by the CA written in that run.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { Command } from 'commander';
import forge from 'node-forge';

export interface NodeCertificateFiles {
  readonly nodeId: string;
  readonly certPath: string;
  readonly keyPath: string;
}

export interface GeneratedCertificates {
  readonly caCertPath: string;
  readonly nodes: readonly NodeCertificateFiles[];
}

export interface GenerateCertificatesOptions {
  readonly outDir: string;
  readonly nodeIds: readonly string[];
  readonly validityDays?: number;
  /** Extra subjectAltNames for every node certificate (the loopback names are always included). */
  readonly extraDnsNames?: readonly string[];
}

const RSA_KEY_BITS = 2048;
const DEFAULT_VALIDITY_DAYS = 365;
const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function randomSerialNumber(): string {
  // A positive serial: clear the top bit of the first byte.
  const bytes = forge.random.getBytesSync(16);
  const first = (bytes.charCodeAt(0) & 0x7f).toString(16).padStart(2, '0');
  return first + forge.util.bytesToHex(bytes.slice(1));
}

function validityWindow(certificate: forge.pki.Certificate, validityDays: number): void {
  const notBefore = new Date(Date.now() - 60_000); // tolerate small clock skew between nodes
  certificate.validity.notBefore = notBefore;
  certificate.validity.notAfter = new Date(notBefore.getTime() + validityDays * 86_400_000);
}

function createCertificateAuthority(validityDays: number): {
  cert: forge.pki.Certificate;
  keys: forge.pki.rsa.KeyPair;
} {
  const keys = forge.pki.rsa.generateKeyPair({ bits: RSA_KEY_BITS });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerialNumber();
  validityWindow(cert, validityDays);
  const subject = [{ name: 'commonName', value: 'EdgeShift test CA' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert, keys };
}

function createNodeCertificate(
  nodeId: string,
  ca: { cert: forge.pki.Certificate; keys: forge.pki.rsa.KeyPair },
  validityDays: number,
  extraDnsNames: readonly string[],
): { cert: forge.pki.Certificate; keys: forge.pki.rsa.KeyPair } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: RSA_KEY_BITS });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerialNumber();
  validityWindow(cert, validityDays);
  cert.setSubject([{ name: 'commonName', value: nodeId }]);
  cert.setIssuer(ca.cert.subject.attributes);
  const dnsNames = [nodeId, 'localhost', ...extraDnsNames];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    {
      name: 'subjectAltName',
      altNames: [...dnsNames.map((value) => ({ type: 2, value })), { type: 7, ip: '127.0.0.1' }],
    },
  ]);
  cert.sign(ca.keys.privateKey, forge.md.sha256.create());
  return { cert, keys };
}

export async function generateCertificates(
  options: GenerateCertificatesOptions,
): Promise<GeneratedCertificates> {
  const validityDays = options.validityDays ?? DEFAULT_VALIDITY_DAYS;
  if (options.nodeIds.length === 0) throw new RangeError('nodeIds is empty: name at least one node');
  for (const nodeId of options.nodeIds) {
    if (!NODE_ID_PATTERN.test(nodeId))
      throw new RangeError(`node id '${nodeId}' must match ${NODE_ID_PATTERN}`);
  }
  await mkdir(options.outDir, { recursive: true });
  const ca = createCertificateAuthority(validityDays);
  const caCertPath = join(options.outDir, 'ca.crt');
  await writeFile(caCertPath, forge.pki.certificateToPem(ca.cert));
  const nodes: NodeCertificateFiles[] = [];
  for (const nodeId of options.nodeIds) {
    const node = createNodeCertificate(nodeId, ca, validityDays, options.extraDnsNames ?? []);
    const certPath = join(options.outDir, `${nodeId}.crt`);
    const keyPath = join(options.outDir, `${nodeId}.key`);
    await writeFile(certPath, forge.pki.certificateToPem(node.cert));
    await writeFile(keyPath, forge.pki.privateKeyToPem(node.keys.privateKey), { mode: 0o600 });
    nodes.push({ nodeId, certPath, keyPath });
  }
  return { caCertPath, nodes };
}

async function main(argv: readonly string[]): Promise<void> {
  const program = new Command()
    .name('generate-certs')
    .description('Write a test CA and per-node certificates for the peer agents (mutual TLS).')
    .requiredOption('--out <dir>', 'directory to write ca.crt, <node>.crt and <node>.key into')
    .option('--nodes <ids>', 'comma-separated node ids', 'node-a,node-b')
    .option('--dns <names>', 'comma-separated extra DNS names for every node certificate', '')
    .option('--days <n>', 'validity in days', String(DEFAULT_VALIDITY_DAYS));
  program.parse([...argv]);
  const flags = program.opts<{ out: string; nodes: string; dns: string; days: string }>();
  const split = (text: string): string[] =>
    text
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean);
  const result = await generateCertificates({
    outDir: flags.out,
    nodeIds: split(flags.nodes),
    extraDnsNames: split(flags.dns),
    validityDays: Number.parseInt(flags.days, 10),
  });
  console.log(JSON.stringify(result, null, 2));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
