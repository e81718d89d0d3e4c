// Doctor against real parts: a local nucleus (real SDK client), the reference data plane's admin
// interface, certificates from scripts/generate-certs.ts and a gRPC server with the agent's mutual TLS.
// Each failure case checks the FAIL line and its reason; the clock is injected for the expiry case.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import * as grpc from '@grpc/grpc-js';

import { createPeerServerCredentials, readTlsMaterial } from '../../../../agent/peer-tls.ts';
import { createLogger } from '../../../../components/common/logger.ts';
import {
  startReferenceDataPlane,
  type ReferenceDataPlane,
} from '../../../../p4/reference/reference-data-plane.ts';
import { CliContext, type GlobalOptions } from '../../../../scripts/cli/cli-context.ts';
import { runDoctor, type CheckResult } from '../../../../scripts/cli/commands/doctor.ts';
import { grantDebugAccess } from '../../../../scripts/cli/debug-access.ts';
import { runCli } from '../../../../scripts/cli/edgeshift.ts';
import { DEFAULT_TOPOLOGY_PATH, loadDemoTopology } from '../../../../scripts/demo.ts';
import { LocalNucleus } from '../../../../scripts/local-nucleus/local-nucleus.ts';
import { testCertificates } from '../../../agent/support/test-certificates.ts';

const NODE = 'node-a';
const DAY_MS = 86_400_000;

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function byCheck(results: readonly CheckResult[], check: string): CheckResult {
  const result = results.find((candidate) => candidate.check === check);
  assert.ok(result !== undefined, `no check "${check}" in ${results.map((r) => r.check).join(', ')}`);
  return result;
}

describe('scripts/cli/commands/doctor', function () {
  this.timeout(60_000);
  let dir: string;
  let nucleus: LocalNucleus;
  let dataPlane: ReferenceDataPlane;
  let accessFile: string;
  let certDir: string;
  let peerServer: grpc.Server;
  let peerAddress: string;

  function context(overrides: Partial<GlobalOptions> = {}): CliContext {
    return new CliContext(
      { out: () => undefined, err: () => undefined, env: {} },
      {
        ipc: accessFile,
        json: true,
        dataPlaneAdmin: dataPlane.admin?.url ?? '',
        timeoutMs: 3000,
        ...overrides,
      },
    );
  }

  function tlsOptions(node = 'node-a', set = 'trusted') {
    return {
      cert: [path.join(certDir, set, `${node}.crt`)],
      key: path.join(certDir, set, `${node}.key`),
      ca: path.join(certDir, set, 'ca.crt'),
      peer: [`node-b=${peerAddress}`],
    };
  }

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'edgeshift-doctor-'));
    const topology = await loadDemoTopology(DEFAULT_TOPOLOGY_PATH, 100 + Math.floor(Math.random() * 100));
    dataPlane = await startReferenceDataPlane({
      topology,
      adminPort: 0,
      logger: createLogger('dp', { level: 'silent' }),
    });
    nucleus = new LocalNucleus({ socketPath: path.join(dir, 'ipc.socket'), thingName: NODE });
    await nucleus.start();
    accessFile = (await grantDebugAccess(nucleus, { rootPath: dir, thingName: NODE })).filePath;
    nucleus.registerComponent({
      name: 'com.edgeshift.NodeMonitor',
      version: '0.1.0',
      configuration: {
        nodeId: 1,
        periodMs: 100,
        source: { kind: 'host' },
        dataPlane: { address: '127.0.0.1', port: 7700 },
      },
    });
    certDir = (await testCertificates()).dir;
    peerServer = new grpc.Server();
    const material = await readTlsMaterial({
      caCertPath: path.join(certDir, 'trusted', 'ca.crt'),
      certPath: path.join(certDir, 'trusted', 'node-b.crt'),
      keyPath: path.join(certDir, 'trusted', 'node-b.key'),
    });
    const port = await new Promise<number>((resolve, reject) =>
      peerServer.bindAsync('127.0.0.1:0', createPeerServerCredentials(material), (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
    peerAddress = `127.0.0.1:${port}`;
  });

  after(async () => {
    peerServer?.forceShutdown();
    await nucleus?.close();
    await dataPlane?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('passes every check on a healthy setup', async () => {
    const results = await runDoctor(context(), tlsOptions());
    const failed = results.filter((result) => result.status === 'FAIL');
    assert.deepEqual(failed, [], 'no check fails');
    assert.match(byCheck(results, 'svcuid').reason, /accepted/);
    assert.match(
      byCheck(results, 'components').reason,
      /com\.edgeshift\.NodeMonitor \w+, com\.edgeshift\.FunctionHost NOT_DEPLOYED/,
    );
    assert.equal(
      byCheck(results, 'config com.edgeshift.NodeMonitor').status,
      'PASS',
      'its configuration is valid',
    );
    assert.match(byCheck(results, `peer node-b`).reason, /completed a mutual TLS handshake/);
    assert.equal(byCheck(results, 'clock').status, 'PASS');
  });

  it('FAILs "ipc socket" when the socket is missing, and skips what needs it', async () => {
    const file = path.join(dir, 'missing-socket.json');
    await writeFile(
      file,
      JSON.stringify({ socketPath: path.join(dir, 'nope.socket'), svcuid: 'x', thingName: NODE }),
    );
    const results = await runDoctor(context({ ipc: file }), { cert: [], peer: [] });
    const socket = byCheck(results, 'ipc socket');
    assert.equal(socket.status, 'FAIL');
    assert.match(socket.reason, /^no socket at .*nope\.socket$/);
    assert.match(socket.fix ?? '', /start the nucleus or the local node/);
    assert.equal(
      results.some((result) => result.check === 'svcuid'),
      false,
      'no token check without a socket',
    );
  });

  it('FAILs "svcuid" when the nucleus refuses the token', async () => {
    const file = path.join(dir, 'bad-token.json');
    await writeFile(
      file,
      JSON.stringify({ socketPath: nucleus.socketPath, svcuid: 'not-a-token', thingName: NODE }),
    );
    const results = await runDoctor(context({ ipc: file }), { cert: [], peer: [] });
    assert.equal(byCheck(results, 'ipc socket').status, 'PASS', 'the socket itself is fine');
    const token = byCheck(results, 'svcuid');
    assert.equal(token.status, 'FAIL');
    assert.match(token.reason, /the nucleus refused the connection/);
    assert.match(token.fix ?? '', /debug-ipc\.json/);
  });

  it('FAILs "data plane" when its admin interface does not answer', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const results = await runDoctor(context({ dataPlaneAdmin: url }), { cert: [], peer: [] });
    const check = byCheck(results, 'data plane');
    assert.equal(check.status, 'FAIL');
    assert.match(check.reason, /did not answer GET \/nodes.*ECONNREFUSED/);
  });

  it('FAILs a certificate that has expired (clock injected past its end)', async () => {
    const twoYearsLater = Date.now() + 2 * 365 * DAY_MS;
    const results = await runDoctor(context(), { ...tlsOptions(), peer: [] }, twoYearsLater);
    const check = byCheck(results, `certificate ${path.join(certDir, 'trusted', 'node-a.crt')}`);
    assert.equal(check.status, 'FAIL');
    assert.match(check.reason, /^expired on \d{4}-\d\d-\d\dT/);
    assert.match(check.fix ?? '', /generate-certs/);
  });

  it('FAILs a peer whose certificate comes from another CA', async () => {
    const results = await runDoctor(context(), tlsOptions('node-a', 'rogue'));
    const check = byCheck(results, 'peer node-b');
    assert.equal(check.status, 'FAIL');
    assert.match(check.fix ?? '', /same CA/);
  });

  it('FAILs a clock that reads before any real date', async () => {
    const results = await runDoctor(context(), { cert: [], peer: [] }, 0);
    assert.equal(byCheck(results, 'clock').status, 'FAIL');
  });

  it('prints PASS/FAIL lines with fixes and exits 1 when a check fails (CLI)', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const url = `http://127.0.0.1:${await closedPort()}`;
    const exitCode = await runCli(['--ipc', accessFile, '--data-plane-admin', url, 'doctor'], {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      env: {},
    });
    const text = out.join('\n');
    assert.equal(exitCode, 1);
    assert.match(text, /^STATUS +CHECK +REASON$/m);
    assert.match(text, /^PASS +svcuid +the nucleus accepted the token$/m);
    assert.match(text, /^FAIL +data plane +the data plane admin interface/m);
    assert.match(text, /^fix data plane: start the reference data plane/m);
    assert.match(err.join('\n'), /doctor check\(s\) failed: data plane \(ERR_CLI_DOCTOR_FAILED\)/);
  });
});
