// A testbed of real separate hosts on one machine: a switch network namespace and host namespaces, each
// host with one veth link to the switch, its address and a default route via the switch, all set with
// `ip`. The switch filters reverse paths strictly, so a packet is accepted only on the link its source
// address lives behind: the ingress-port check of a switch, which the data plane's socket relay cannot
// make itself. Used by test/system/netns-*.test.ts, which run processes inside with spawn(). Invariant: names
// are unique per run (edgeshift-<pid>-<random>-<role>) and destroy() removes exactly what create() made,
// processes first; namespaces of runs whose process is gone are swept by the next create().
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

import { EdgeShiftError } from '../../components/common/errors.ts';
import type { Topology } from '../../p4/control-plane/topology.ts';
import { NetnsProcess, type NetnsProcessOptions } from './netns-process.ts';

const execFileAsync = promisify(execFile);

/** Role of the namespace that runs the data plane; hosts take any other role name. */
export const SWITCH_ROLE = 'switch';
const NAME_PREFIX = 'edgeshift-';
const NAME_PATTERN = /^edgeshift-(\d+)-[0-9a-f]{4}-/;
// Interface names are at most 15 bytes (IFNAMSIZ - 1); the switch side of a link is named after its host.
const MAX_INTERFACE_NAME_BYTES = 15;
const CLEANUP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface NetnsHostPlan {
  /** Host role, also the name of the switch-side interface of its link (e.g. "node-a"). */
  readonly role: string;
  /** The host's address on its link, `a.b.c.d/len`. */
  readonly address: string;
  /** The switch's address on that link (`a.b.c.d`, same prefix): the host's default gateway. */
  readonly gateway: string;
}

export interface NetnsPlan {
  readonly hosts: readonly NetnsHostPlan[];
  /** Extra addresses of the switch itself (data-plane address, VIPs), `a.b.c.d/32` on its loopback. */
  readonly switchAddresses: readonly string[];
}

function ipv4Value(address: string): number {
  return address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
}

/** The highest host address of the prefix around `address` (the gateway convention .254 for a /24). */
function gatewayOf(address: string, prefixLength: number): string {
  const size = 2 ** (32 - prefixLength);
  const gateway = Math.floor(ipv4Value(address) / size) * size + size - 2;
  return [24, 16, 8, 0].map((shift) => Math.floor(gateway / 2 ** shift) % 256).join('.');
}

function isInPrefix(address: string, prefix: string): boolean {
  const [network = '', lengthText = '32'] = prefix.split('/');
  const size = 2 ** (32 - Number(lengthText));
  return Math.floor(ipv4Value(address) / size) === Math.floor(ipv4Value(network) / size);
}

/** The length of the longest route prefix covering `address`: the host's link prefix. */
function prefixLengthFor(topology: Topology, address: string): number {
  const lengths = topology.routes
    .filter((route) => isInPrefix(address, route.prefix))
    .map((route) => Number(route.prefix.split('/')[1] ?? '32'));
  if (lengths.length === 0) {
    throw new EdgeShiftError(
      'ERR_TESTBED_COMMAND_FAILED',
      `topology ${topology.name} has no route covering ${address}; add one per veth link (e.g. ${address}/24)`,
      { context: { address } },
    );
  }
  return Math.max(...lengths);
}

/**
 * One host per topology node (role = node name, address from the topology, prefix from the route that
 * covers it) plus the given clients; the switch holds the data-plane address and every VIP.
 */
export function netnsPlanFromTopology(
  topology: Topology,
  clients: readonly { readonly role: string; readonly ipv4: string }[] = [],
): NetnsPlan {
  const hosts = [...topology.nodes.map((node) => ({ role: node.name, ipv4: node.ipv4 })), ...clients].map(
    ({ role, ipv4 }) => {
      const prefixLength = prefixLengthFor(topology, ipv4);
      return { role, address: `${ipv4}/${prefixLength}`, gateway: gatewayOf(ipv4, prefixLength) };
    },
  );
  const vips = [...new Set(topology.services.map((service) => service.vip))];
  return { hosts, switchAddresses: [topology.dataPlane.ipv4, ...vips].map((address) => `${address}/32`) };
}

async function ip(args: readonly string[]): Promise<void> {
  try {
    await execFileAsync('ip', args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim() ?? '';
    throw new EdgeShiftError('ERR_TESTBED_COMMAND_FAILED', `ip ${args.join(' ')} failed: ${stderr}`, {
      context: { args: args.join(' ') },
      cause: err,
    });
  }
}

function listNamespaces(): string[] {
  const output = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return output
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills every process still inside the namespace (grandchildren too), then deletes it; idempotent. */
function deleteNamespace(name: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    for (const pid of pids.split('\n').filter((line) => /^\d+$/.test(line))) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* exited meanwhile */
      }
    }
    execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
  } catch {
    /* already deleted: what we wanted */
  }
}

/** Deletes namespaces left by earlier runs whose process has exited; returns their names. */
export function removeStaleNamespaces(): string[] {
  const stale = listNamespaces().filter((name) => {
    const pid = NAME_PATTERN.exec(name)?.[1];
    return pid !== undefined && Number(pid) !== process.pid && !isProcessAlive(Number(pid));
  });
  stale.forEach(deleteNamespace);
  return stale;
}

function checkPlan(plan: NetnsPlan): void {
  const roles = plan.hosts.map((host) => host.role);
  const bad = roles.find(
    (role, i) =>
      role === SWITCH_ROLE ||
      roles.indexOf(role) !== i ||
      !/^[a-z0-9-]+$/.test(role) ||
      Buffer.byteLength(role) > MAX_INTERFACE_NAME_BYTES,
  );
  if (bad !== undefined) {
    throw new EdgeShiftError(
      'ERR_TESTBED_COMMAND_FAILED',
      `host role '${bad}' must be unique, not '${SWITCH_ROLE}', [a-z0-9-] and at most ${MAX_INTERFACE_NAME_BYTES} bytes`,
      { context: { role: bad } },
    );
  }
}

export class NetnsTestbed {
  /** `<pid>-<random>`: part of every namespace name of this run. */
  readonly runId: string;
  readonly plan: NetnsPlan;
  private readonly namespaces = new Map<string, string>();
  private readonly processes = new Set<NetnsProcess>();
  private destroying: Promise<void> | undefined;
  private readonly onExit = (): void => this.destroyNow();
  // A signal ends Node without an 'exit' event: clean up, then die of the signal as if unhandled.
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.destroyNow();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };

  private constructor(plan: NetnsPlan) {
    this.plan = plan;
    this.runId = `${process.pid}-${randomBytes(2).toString('hex')}`;
    for (const role of [SWITCH_ROLE, ...plan.hosts.map((host) => host.role)]) {
      this.namespaces.set(role, `${NAME_PREFIX}${this.runId}-${role}`);
    }
  }

  /** Creates every namespace and link of the plan; on any failure removes what it made and throws. */
  static async create(plan: NetnsPlan): Promise<NetnsTestbed> {
    checkPlan(plan);
    removeStaleNamespaces();
    const testbed = new NetnsTestbed(plan);
    // Registered before the first namespace exists: a test run that exits without after() still cleans up.
    process.once('exit', testbed.onExit);
    for (const signal of CLEANUP_SIGNALS) process.once(signal, testbed.onSignal);
    try {
      await testbed.build();
    } catch (err) {
      await testbed.destroy();
      throw err;
    }
    return testbed;
  }

  /** The namespace name of a role (SWITCH_ROLE or a host role). */
  namespace(role: string): string {
    const name = this.namespaces.get(role);
    if (name === undefined) {
      throw new EdgeShiftError(
        'ERR_TESTBED_COMMAND_FAILED',
        `no host '${role}' in this testbed; roles: ${[...this.namespaces.keys()].join(', ')}`,
        { context: { role } },
      );
    }
    return name;
  }

  /** Runs `command` inside the role's namespace (ip netns exec); destroy() stops it if it still runs. */
  spawn(role: string, command: readonly string[], options: NetnsProcessOptions = {}): NetnsProcess {
    const child = NetnsProcess.start(['ip', 'netns', 'exec', this.namespace(role), ...command], {
      ...options,
      label: options.label ?? `${role}: ${command.slice(0, 4).join(' ')}`,
    });
    this.processes.add(child);
    void child.exited.then(() => this.processes.delete(child));
    return child;
  }

  /** Runs a short command inside the role's namespace to the end; resolves with its stdout. */
  async run(role: string, command: readonly string[]): Promise<string> {
    const argv = ['netns', 'exec', this.namespace(role), ...command];
    try {
      return (await execFileAsync('ip', argv, { encoding: 'utf8' })).stdout;
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr?.trim() ?? '';
      throw new EdgeShiftError('ERR_TESTBED_COMMAND_FAILED', `ip ${argv.join(' ')} failed: ${stderr}`, {
        context: { role },
        cause: err,
      });
    }
  }

  /** Stops every process still running, then deletes the namespaces (their veths go with them); idempotent. */
  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      await Promise.all([...this.processes].map((child) => child.stop()));
      this.destroyNow();
    })();
    return this.destroying;
  }

  private destroyNow(): void {
    for (const child of this.processes) child.kill();
    for (const name of this.namespaces.values()) deleteNamespace(name);
    process.off('exit', this.onExit);
    for (const signal of CLEANUP_SIGNALS) process.off(signal, this.onSignal);
  }

  private async build(): Promise<void> {
    const switchNamespace = this.namespace(SWITCH_ROLE);
    for (const name of this.namespaces.values()) {
      await ip(['netns', 'add', name]);
      await ip(['-n', name, 'link', 'set', 'lo', 'up']);
    }
    // Strict (1) on "all" makes every interface of the switch strict: the kernel uses the higher of all/<dev>.
    await this.run(SWITCH_ROLE, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter']);
    for (const address of this.plan.switchAddresses) {
      await ip(['-n', switchNamespace, 'address', 'add', address, 'dev', 'lo']);
    }
    for (const host of this.plan.hosts) await this.link(host, switchNamespace);
  }

  /** One veth pair created directly in both namespaces: nothing appears in the root namespace. */
  private async link(host: NetnsHostPlan, switchNamespace: string): Promise<void> {
    const hostNamespace = this.namespace(host.role);
    const prefixLength = host.address.split('/')[1] ?? '32';
    await ip([
      'link',
      'add',
      'eth0',
      'netns',
      hostNamespace,
      'type',
      'veth',
      'peer',
      'name',
      host.role,
      'netns',
      switchNamespace,
    ]);
    await ip(['-n', hostNamespace, 'address', 'add', host.address, 'dev', 'eth0']);
    await ip(['-n', hostNamespace, 'link', 'set', 'eth0', 'up']);
    await ip(['-n', switchNamespace, 'address', 'add', `${host.gateway}/${prefixLength}`, 'dev', host.role]);
    await ip(['-n', switchNamespace, 'link', 'set', host.role, 'up']);
    await ip(['-n', hostNamespace, 'route', 'add', 'default', 'via', host.gateway]);
  }
}

/** Names of this machine's namespaces that belong to EdgeShift testbeds (for checks and diagnosis). */
export function listTestbedNamespaces(): string[] {
  return listNamespaces().filter((name) => name.startsWith(NAME_PREFIX));
}
