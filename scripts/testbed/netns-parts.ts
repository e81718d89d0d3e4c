// Starts EdgeShift's parts as processes inside a namespace testbed and gives the test a handle on each:
// the reference data plane (scripts/reference-data-plane.ts) with its admin interface bridged out of the
// switch namespace, node monitors (scripts/run-monitor.ts), function hosts, UDP endpoints and the load
// generator (scripts/loadgen/cli.ts). Each
// start waits, bounded, for the part's ready line. Invariant: processes are spawned through the testbed,
// so its destroy() stops every one of them.
import http from 'node:http';
import { join } from 'node:path';

import { EdgeShiftError } from '../../components/common/errors.ts';
import { SWITCH_ROLE, type NetnsTestbed } from './netns-testbed.ts';
import type { NetnsProcess } from './netns-process.ts';

/** Generous on a loaded 2-core machine: each part is a fresh Node process compiling TypeScript. */
export const PART_START_TIMEOUT_MS = 30_000;
const TSX = ['node', '--import', 'tsx'];
// Children log at info: readiness and decisions are read from their JSON lines.
const CHILD_ENV = { EDGESHIFT_LOG_LEVEL: 'info' };

export interface UdpAddress {
  readonly address: string;
  readonly port: number;
}

export interface Datagram {
  readonly from: UdpAddress;
  readonly payload: Buffer;
}

function parseJsonLine(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function hasMessage(message: string): (line: string) => boolean {
  return (line) => parseJsonLine(line)?.message === message;
}

/** A UDP socket of one host, driven through scripts/testbed/netns-udp-endpoint.ts. */
export class UdpEndpoint {
  readonly process: NetnsProcess;
  readonly bound: UdpAddress;

  private constructor(child: NetnsProcess, bound: UdpAddress) {
    this.process = child;
    this.bound = bound;
  }

  static async start(
    testbed: NetnsTestbed,
    role: string,
    bind: Partial<UdpAddress> = {},
  ): Promise<UdpEndpoint> {
    const child = testbed.spawn(role, [
      ...TSX,
      'scripts/testbed/netns-udp-endpoint.ts',
      ...(bind.address === undefined ? [] : ['--address', bind.address]),
      ...(bind.port === undefined ? [] : ['--port', String(bind.port)]),
    ]);
    const ready = await child.waitForLine(
      (line) => parseJsonLine(line)?.event === 'ready',
      PART_START_TIMEOUT_MS,
      'its ready line',
    );
    const { address, port } = parseJsonLine(ready) as { address: string; port: number };
    return new UdpEndpoint(child, { address, port });
  }

  /** Position in the received stream: pass to nextDatagram to skip what already arrived. */
  get mark(): number {
    return this.process.lineCount;
  }

  send(to: UdpAddress, payload: Uint8Array): void {
    this.process.writeLine(JSON.stringify({ to, payloadHex: Buffer.from(payload).toString('hex') }));
  }

  /** The first datagram after `since` (a mark) that `matches`; throws ERR_TESTBED_TIMEOUT after timeoutMs. */
  async nextDatagram(
    matches: (datagram: Datagram) => boolean,
    timeoutMs: number,
    what: string,
    since = 0,
  ): Promise<Datagram> {
    const line = await this.process.waitForLine(
      (text) => {
        const datagram = toDatagram(text);
        return datagram !== undefined && matches(datagram);
      },
      timeoutMs,
      what,
      since,
    );
    return toDatagram(line)!;
  }
}

function toDatagram(line: string): Datagram | undefined {
  const event = parseJsonLine(line);
  if (event?.event !== 'datagram') return undefined;
  const from = event.from as UdpAddress;
  return { from, payload: Buffer.from(String(event.payloadHex), 'hex') };
}

/** The reference data plane running in the switch namespace, and its admin interface. */
export class DataPlaneProcess {
  readonly process: NetnsProcess;
  private readonly adminSocketPath: string;

  private constructor(child: NetnsProcess, adminSocketPath: string) {
    this.process = child;
    this.adminSocketPath = adminSocketPath;
  }

  /** `workDirectory` holds the admin bridge's Unix socket; `adminPort` is the switch namespace's own. */
  static async start(
    testbed: NetnsTestbed,
    options: { topologyPath: string; adminPort: number; workDirectory: string },
  ): Promise<DataPlaneProcess> {
    const child = testbed.spawn(
      SWITCH_ROLE,
      [
        ...TSX,
        'scripts/reference-data-plane.ts',
        '--topology',
        options.topologyPath,
        '--admin-port',
        String(options.adminPort),
      ],
      { env: CHILD_ENV },
    );
    const adminSocketPath = join(options.workDirectory, 'admin.sock');
    const bridge = testbed.spawn(
      SWITCH_ROLE,
      [
        ...TSX,
        'scripts/testbed/netns-unix-bridge.ts',
        '--unix',
        adminSocketPath,
        '--to',
        `127.0.0.1:${options.adminPort}`,
      ],
      { env: CHILD_ENV },
    );
    await Promise.all([
      child.waitForLine(hasMessage('reference data plane running'), PART_START_TIMEOUT_MS, 'that it runs'),
      bridge.waitForLine(hasMessage('bridge listening'), PART_START_TIMEOUT_MS, 'that it listens'),
    ]);
    return new DataPlaneProcess(child, adminSocketPath);
  }

  /** GET a path of the admin interface (e.g. /nodes); throws on a non-200 answer. */
  getJson(path: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const request = http.get({ socketPath: this.adminSocketPath, path, agent: false }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (response.statusCode !== 200) {
            reject(
              new EdgeShiftError(
                'ERR_TESTBED_COMMAND_FAILED',
                `admin GET ${path} answered ${response.statusCode}: ${text}`,
                { context: { path } },
              ),
            );
            return;
          }
          resolve(JSON.parse(text) as unknown);
        });
        response.on('error', reject);
      });
      request.on('error', reject);
    });
  }
}

export interface MonitorOptions {
  readonly nodeId: number;
  readonly dataPlane: UdpAddress;
  readonly sourceAddress: string;
  /** The --synthetic profile, e.g. {cpu: {shape: 'constant', percent: 95}}. */
  readonly synthetic: Readonly<Record<string, unknown>>;
  readonly periodMs?: number;
  readonly adviceForward?: UdpAddress;
}

/** scripts/run-monitor.ts inside a node's namespace; resolves once the monitor has started. */
export async function startMonitor(
  testbed: NetnsTestbed,
  role: string,
  options: MonitorOptions,
): Promise<NetnsProcess> {
  const child = testbed.spawn(
    role,
    [
      ...TSX,
      'scripts/run-monitor.ts',
      '--node-id',
      String(options.nodeId),
      '--data-plane',
      `${options.dataPlane.address}:${options.dataPlane.port}`,
      '--source-address',
      options.sourceAddress,
      '--synthetic',
      JSON.stringify(options.synthetic),
      '--period-ms',
      String(options.periodMs ?? 100),
      ...(options.adviceForward === undefined
        ? []
        : ['--advice-forward', `${options.adviceForward.address}:${options.adviceForward.port}`]),
    ],
    { env: CHILD_ENV },
  );
  await child.waitForLine(hasMessage('node monitor started'), PART_START_TIMEOUT_MS, 'that it started');
  return child;
}

/** scripts/testbed/netns-function-host.ts inside a node's namespace, with a FunctionHost configuration. */
export async function startFunctionHost(
  testbed: NetnsTestbed,
  role: string,
  config: Readonly<Record<string, unknown>>,
): Promise<NetnsProcess> {
  const child = testbed.spawn(
    role,
    [...TSX, 'scripts/testbed/netns-function-host.ts', '--config', JSON.stringify(config)],
    { env: CHILD_ENV },
  );
  await child.waitForLine(hasMessage('function host running'), PART_START_TIMEOUT_MS, 'that it runs');
  return child;
}

export interface LoadRunOptions {
  readonly target: UdpAddress;
  readonly service: string;
  readonly rateHz: number;
  readonly durationMs: number;
  readonly keyCount: number;
  /** Body field that carries the reading (sensor-stats takes `celsius`). */
  readonly valueField: string;
  /** Where the JSON report goes (the file system is shared by all namespaces). */
  readonly jsonOutPath: string;
}

/** Runs scripts/loadgen/cli.ts to the end inside a host's namespace; resolves with its exit code. */
export async function runLoadGenerator(
  testbed: NetnsTestbed,
  role: string,
  options: LoadRunOptions,
): Promise<number | string> {
  const child = testbed.spawn(role, [
    ...TSX,
    'scripts/loadgen/cli.ts',
    '--target',
    `${options.target.address}:${options.target.port}`,
    '--service',
    options.service,
    '--rate',
    String(options.rateHz),
    '--duration-ms',
    String(options.durationMs),
    '--keys',
    String(options.keyCount),
    '--value-field',
    options.valueField,
    '--deadline-ms',
    '2000',
    '--no-table',
    '--json-out',
    options.jsonOutPath,
  ]);
  return child.exited;
}

/** Polls `read` until `isDone` holds for its value; throws ERR_TESTBED_TIMEOUT with the last value. */
export async function pollUntil<T>(
  read: () => Promise<T>,
  isDone: (value: T) => boolean,
  options: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await read();
    if (isDone(value)) return value;
    if (Date.now() > deadline) {
      throw new EdgeShiftError(
        'ERR_TESTBED_TIMEOUT',
        `${options.what} did not happen within ${options.timeoutMs} ms; last value: ${JSON.stringify(value)}`,
        { context: { what: options.what } },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
