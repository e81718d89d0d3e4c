// `edgeshift doctor`: diagnoses a node's setup and says what is wrong and what to do. Checks, in order:
// IPC access known, socket present and connectable, SVCUID accepted, component states, component
// configurations valid against their schemas, data plane admin reachable, certificates present and
// valid now, peers reachable over gRPC with mutual TLS, clock sane. Each check is PASS, FAIL or SKIP
// with a reason; exit 1 when any check fails. Registered by scripts/cli/edgeshift.ts.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import net from 'node:net';

import * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';

import {
  compilePeerAgentConfigValidator,
  PEER_AGENT_COMPONENT,
  type PeerAgentConfig,
} from '../../../agent/agent-config.ts';
import { createPeerChannelCredentials, peerChannelOptions } from '../../../agent/peer-tls.ts';
import { EdgeShiftError } from '../../../components/common/errors.ts';
import { connectIpc, type IpcClient } from '../../../components/common/ipc/index.ts';
import { createLogger } from '../../../components/common/logger.ts';
import {
  FUNCTION_HOST_COMPONENT,
  validateFunctionHostConfig,
} from '../../../components/function-host/function-host-config.ts';
import {
  NODE_MONITOR_COMPONENT,
  validateNodeMonitorConfig,
} from '../../../components/node-monitor/node-monitor-config.ts';
import type { CliContext } from '../cli-context.ts';
import { readComponentStates } from '../components.ts';
import type { IpcAccess } from '../ipc-access.ts';
import { renderTable } from '../table.ts';

export type CheckStatus = 'PASS' | 'FAIL' | 'SKIP';

export interface CheckResult {
  readonly check: string;
  readonly status: CheckStatus;
  readonly reason: string;
  /** What to do, for a FAIL. */
  readonly fix?: string;
}

interface DoctorOptions {
  readonly cert: readonly string[];
  readonly key?: string;
  readonly ca?: string;
  readonly peer: readonly string[];
}

/** No real clock is before this (the project's first release year) or after 2100. */
const EARLIEST_SANE_MS = Date.UTC(2025, 0, 1);
const LATEST_SANE_MS = Date.UTC(2100, 0, 1);
const PEER_CONNECT_TIMEOUT_MS = 3000;

const CONFIG_VALIDATORS: readonly [string, (value: unknown) => unknown][] = [
  [NODE_MONITOR_COMPONENT, validateNodeMonitorConfig],
  [FUNCTION_HOST_COMPONENT, validateFunctionHostConfig],
  [PEER_AGENT_COMPONENT, compilePeerAgentConfigValidator()],
];

const pass = (check: string, reason: string): CheckResult => ({ check, status: 'PASS', reason });
const skip = (check: string, reason: string): CheckResult => ({ check, status: 'SKIP', reason });
const fail = (check: string, reason: string, fix: string): CheckResult => ({
  check,
  status: 'FAIL',
  reason,
  fix,
});

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function checkSocket(access: IpcAccess): Promise<CheckResult> {
  const check = 'ipc socket';
  const info = await stat(access.socketPath).catch(() => undefined);
  if (info === undefined) {
    return fail(
      check,
      `no socket at ${access.socketPath}`,
      'start the nucleus or the local node (npm run local-node), or fix the socket path in --ipc / AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT',
    );
  }
  if (!info.isSocket())
    return fail(
      check,
      `${access.socketPath} is not a Unix socket`,
      'point the socket path at the nucleus socket (<root>/ipc.socket for the local node)',
    );
  const error = await new Promise<Error | undefined>((resolve) => {
    const socket = net.connect(access.socketPath, () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', resolve);
  });
  if (error !== undefined) {
    return fail(
      check,
      `cannot connect to ${access.socketPath}: ${error.message}`,
      'the nucleus that made this socket is gone: restart it (a stale socket file stays after a crash)',
    );
  }
  return pass(check, `${access.socketPath} accepts connections`);
}

async function connectOnce(access: IpcAccess): Promise<{ ipc?: IpcClient; result: CheckResult }> {
  try {
    const ipc = await connectIpc({
      socketPath: access.socketPath,
      authToken: access.svcuid,
      connectAttempts: 1,
      logger: createLogger('edgeshift-cli:ipc', { level: 'silent' }),
    });
    return { ipc, result: pass('svcuid', 'the nucleus accepted the token') };
  } catch (err) {
    return {
      result: fail(
        'svcuid',
        `the nucleus refused the connection: ${messageOf(err)}`,
        "the token is stale or not this nucleus's: take the svcuid from the current <root>/debug-ipc.json (it changes with every local node start) or the SVCUID the nucleus gave the component",
      ),
    };
  }
}

async function checkComponents(
  ipc: IpcClient,
): Promise<{ result: CheckResult; deployed: readonly string[] }> {
  const check = 'components';
  try {
    const states = await readComponentStates(ipc);
    const text = states.map((state) => `${state.componentName} ${state.state}`).join(', ');
    const deployed = states
      .filter((state) => state.state !== 'NOT_DEPLOYED')
      .map((state) => state.componentName);
    const broken = states.filter((state) => state.state === 'BROKEN' || state.state === 'ERRORED');
    if (broken.length > 0) {
      return {
        deployed,
        result: fail(
          check,
          text,
          `read the logs of ${broken.map((state) => state.componentName).join(', ')} (<root>/logs/<component>.log on the local node, /greengrass/v2/logs on a device)`,
        ),
      };
    }
    if (deployed.length === 0)
      return {
        deployed,
        result: fail(check, text, 'deploy the EdgeShift components (recipes/) to this node'),
      };
    return { deployed, result: pass(check, text) };
  } catch (err) {
    return {
      deployed: [],
      result: fail(
        check,
        `GetComponentDetails failed: ${messageOf(err)}`,
        'check that the nucleus is healthy',
      ),
    };
  }
}

async function checkConfigurations(
  ipc: IpcClient,
  deployed: readonly string[],
): Promise<{ results: CheckResult[]; agent?: PeerAgentConfig }> {
  const results: CheckResult[] = [];
  let agent: PeerAgentConfig | undefined;
  for (const [component, validate] of CONFIG_VALIDATORS) {
    const check = `config ${component}`;
    if (!deployed.includes(component)) {
      results.push(skip(check, 'not deployed'));
      continue;
    }
    try {
      const configuration = await ipc.getConfiguration([], component);
      const valid = validate(configuration);
      if (component === PEER_AGENT_COMPONENT) agent = valid as PeerAgentConfig;
      results.push(pass(check, 'valid against its schema and rules'));
    } catch (err) {
      results.push(
        fail(
          check,
          messageOf(err),
          `fix the field named in the reason with a deployment configuration merge (schema: recipes/schemas/${component}.schema.json)`,
        ),
      );
    }
  }
  return agent === undefined ? { results } : { results, agent };
}

async function checkDataPlane(context: CliContext): Promise<CheckResult> {
  const check = 'data plane';
  try {
    const nodes = await context.admin().nodes();
    const live = nodes.filter((node) => node.isLive).map((node) => node.name ?? `#${node.nodeId}`);
    return pass(
      check,
      `${context.options.dataPlaneAdmin} answers: ${nodes.length} nodes, live: ${live.join(', ') || 'none'}`,
    );
  } catch (err) {
    return fail(
      check,
      messageOf(err),
      'start the reference data plane with --admin-port, or pass --data-plane-admin with its URL (EDGESHIFT_DATA_PLANE_ADMIN)',
    );
  }
}

async function checkCertificate(path: string, nowMs: number): Promise<CheckResult> {
  const check = `certificate ${path}`;
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(await readFile(path));
  } catch (err) {
    return fail(
      check,
      `cannot read a PEM certificate: ${messageOf(err)}`,
      'generate the node certificates (npx tsx scripts/generate-certs.ts) or fix the path in the agent configuration tls',
    );
  }
  const validFromMs = Date.parse(certificate.validFrom);
  const validToMs = Date.parse(certificate.validTo);
  if (nowMs > validToMs) {
    return fail(
      check,
      `expired on ${new Date(validToMs).toISOString()} (${certificate.subject.replaceAll('\n', ', ')})`,
      'issue a new certificate (npx tsx scripts/generate-certs.ts) and redeploy it; peers refuse an expired one',
    );
  }
  if (nowMs < validFromMs) {
    return fail(
      check,
      `not valid before ${new Date(validFromMs).toISOString()}`,
      'check the clock of this machine and of the CA that issued it',
    );
  }
  const days = Math.floor((validToMs - nowMs) / 86_400_000);
  return pass(check, `valid until ${new Date(validToMs).toISOString()} (${days} days)`);
}

async function checkKeyMatches(certPath: string, keyPath: string): Promise<CheckResult> {
  const check = `key ${keyPath}`;
  try {
    const certificate = new X509Certificate(await readFile(certPath));
    const key = createPrivateKey(await readFile(keyPath));
    if (!certificate.checkPrivateKey(key))
      return fail(check, `does not belong to ${certPath}`, 'deploy the key generated with this certificate');
    return pass(check, `matches ${certPath}`);
  } catch (err) {
    return fail(
      check,
      `cannot read the private key: ${messageOf(err)}`,
      'fix the key path in the agent configuration tls',
    );
  }
}

async function checkPeer(
  name: string,
  address: string,
  tls: { caCertPath: string; certPath: string; keyPath: string },
): Promise<CheckResult> {
  const check = `peer ${name}`;
  let client: grpc.Client | undefined;
  try {
    const [caCert, cert, key] = await Promise.all([
      readFile(tls.caCertPath),
      readFile(tls.certPath),
      readFile(tls.keyPath),
    ]);
    client = new grpc.Client(
      address,
      createPeerChannelCredentials({ caCert, cert, key }),
      peerChannelOptions(name),
    );
    const deadline = Date.now() + PEER_CONNECT_TIMEOUT_MS;
    await new Promise<void>((resolve, reject) =>
      client?.waitForReady(deadline, (err) => (err ? reject(err) : resolve())),
    );
    return pass(check, `${address} completed a mutual TLS handshake`);
  } catch (err) {
    return fail(
      check,
      `${address}: ${messageOf(err)}`,
      `check that the peer agent of ${name} runs and listens on ${address}, that both certificates come from the same CA, and that its certificate names ${name}`,
    );
  } finally {
    client?.close();
  }
}

function checkClock(nowMs: number): CheckResult {
  const now = new Date(nowMs).toISOString();
  if (nowMs < EARLIEST_SANE_MS || nowMs > LATEST_SANE_MS) {
    return fail(
      'clock',
      `the system clock reads ${now}`,
      'set the clock (timedatectl set-ntp true, or date -s); certificates and report timestamps depend on it',
    );
  }
  return pass('clock', `${now}`);
}

async function ipcChecks(context: CliContext): Promise<{ results: CheckResult[]; agent?: PeerAgentConfig }> {
  const results: CheckResult[] = [];
  let access: IpcAccess;
  try {
    access = await context.resolveAccess();
    results.push(
      pass(
        'ipc access',
        `socket ${access.socketPath}${context.options.ipc === undefined ? ' (component environment)' : ` (from ${context.options.ipc})`}`,
      ),
    );
  } catch (err) {
    results.push(
      fail('ipc access', messageOf(err), 'pass --ipc <root>/debug-ipc.json or run inside a component'),
    );
    return { results };
  }
  const socket = await checkSocket(access);
  results.push(socket);
  if (socket.status === 'FAIL') return { results };
  const { ipc, result } = await connectOnce(access);
  results.push(result);
  if (ipc === undefined) return { results };
  try {
    const components = await checkComponents(ipc);
    results.push(components.result);
    const configurations = await checkConfigurations(ipc, components.deployed);
    results.push(...configurations.results);
    return configurations.agent === undefined ? { results } : { results, agent: configurations.agent };
  } finally {
    await ipc.close();
  }
}

async function tlsChecks(
  options: DoctorOptions,
  agent: PeerAgentConfig | undefined,
  nowMs: number,
): Promise<CheckResult[]> {
  const tls = agent?.tls;
  const caCertPath = options.ca ?? tls?.caCertPath;
  const certPath = options.cert[0] ?? tls?.certPath;
  const keyPath = options.key ?? tls?.keyPath;
  const certificates = [
    ...new Set(
      [caCertPath, ...options.cert, tls?.certPath].filter((path): path is string => path !== undefined),
    ),
  ];
  if (certificates.length === 0)
    return [skip('certificates', 'no TLS configured in the agent and no --cert given')];
  const results = await Promise.all(certificates.map((path) => checkCertificate(path, nowMs)));
  if (certPath !== undefined && keyPath !== undefined) results.push(await checkKeyMatches(certPath, keyPath));
  const peers = [
    ...(agent?.peers ?? []).map((peer) => ({ name: peer.nodeName, address: peer.grpcAddress })),
    ...options.peer.map((text) => {
      const [name = text, address = text] = text.includes('=') ? text.split('=', 2) : [text, text];
      return { name, address };
    }),
  ];
  if (caCertPath === undefined || certPath === undefined || keyPath === undefined) {
    if (peers.length > 0) results.push(skip('peers', 'no CA, certificate and key to connect with'));
    return results;
  }
  for (const peer of peers)
    results.push(await checkPeer(peer.name, peer.address, { caCertPath, certPath, keyPath }));
  return results;
}

/** Runs every check; exported for tests and for callers that want the results, not the printout. */
export async function runDoctor(
  context: CliContext,
  options: DoctorOptions,
  nowMs = Date.now(),
): Promise<CheckResult[]> {
  const { results, agent } = await ipcChecks(context);
  results.push(await checkDataPlane(context));
  results.push(...(await tlsChecks(options, agent, nowMs)));
  results.push(checkClock(nowMs));
  return results;
}

function collect(value: string, previous: readonly string[]): string[] {
  return [...previous, value];
}

export function registerDoctor(program: Command, contextOf: (command: Command) => CliContext): void {
  program
    .command('doctor')
    .description(
      'diagnose the node setup: IPC, token, components, configurations, data plane, certificates, peers, clock',
    )
    .option(
      '--cert <file>',
      'a certificate to check (repeatable; default: the agent configuration tls)',
      collect,
      [],
    )
    .option('--key <file>', 'the private key of the first --cert')
    .option('--ca <file>', 'the CA certificate')
    .option(
      '--peer <name=host:port>',
      'a peer agent to reach over gRPC with mutual TLS (repeatable)',
      collect,
      [],
    )
    .action(async (options: DoctorOptions, command: Command) => {
      const context = contextOf(command);
      const results = await runDoctor(context, options);
      const failed = results.filter((result) => result.status === 'FAIL');
      context.print({ ok: failed.length === 0, checks: results }, () => [
        ...renderTable(
          [
            { header: 'STATUS', value: (result: CheckResult) => result.status },
            { header: 'CHECK', value: (result) => result.check },
            { header: 'REASON', value: (result) => result.reason },
          ],
          results,
        ),
        ...failed.map((result) => `fix ${result.check}: ${result.fix ?? ''}`),
        failed.length === 0 ? 'all checks passed' : `${failed.length} check(s) failed`,
      ]);
      if (failed.length > 0) {
        throw new EdgeShiftError(
          'ERR_CLI_DOCTOR_FAILED',
          `${failed.length} doctor check(s) failed: ${failed.map((result) => result.check).join(', ')}`,
        );
      }
    });
}
