// The namespace testbed itself (scripts/testbed/netns-testbed.ts): plans from a topology, links that carry
// packets, names unique per run, and cleanup that leaves nothing behind, after success or a failed build.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { loadTopology } from '../../p4/control-plane/topology.ts';
import { pollUntil } from '../../scripts/testbed/netns-parts.ts';
import {
  listTestbedNamespaces,
  NetnsTestbed,
  netnsPlanFromTopology,
  removeStaleNamespaces,
  SWITCH_ROLE,
  type NetnsPlan,
} from '../../scripts/testbed/netns-testbed.ts';
import { requireSystem } from './support/requirements.ts';

const PLAN: NetnsPlan = {
  hosts: [
    { role: 'left', address: '10.78.1.1/24', gateway: '10.78.1.254' },
    { role: 'right', address: '10.78.2.2/24', gateway: '10.78.2.254' },
  ],
  switchAddresses: ['10.78.0.254/32'],
};

/** `ip` output of a command run inside a namespace. */
function inNamespace(namespace: string, args: readonly string[]): string {
  return execFileSync('ip', ['netns', 'exec', namespace, ...args], { encoding: 'utf8' });
}

function pidsIn(namespace: string): number[] {
  return execFileSync('ip', ['netns', 'pids', namespace], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => /^\d+$/.test(line))
    .map(Number);
}

/** Running, not a zombie: a killed orphan stays a zombie until init reaps it. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The pid of a process that has exited (for a "dead run" namespace name). */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.once('exit', resolve));
  assert.ok(child.pid !== undefined, 'true started');
  return child.pid;
}

describe('netns-testbed (system)', function () {
  this.timeout(60_000);

  before(() => requireSystem(['root', 'ip', 'ping']));

  describe('netnsPlanFromTopology', () => {
    it('gives each node and client its address, link prefix and the .254 gateway, and the switch the data-plane address and VIPs', async () => {
      const topology = await loadTopology('p4/control-plane/netns.yaml');
      assert.deepEqual(
        netnsPlanFromTopology(topology, [{ role: 'client', ipv4: '10.77.3.3' }]),
        {
          hosts: [
            { role: 'node-a', address: '10.77.1.1/24', gateway: '10.77.1.254' },
            { role: 'node-b', address: '10.77.2.2/24', gateway: '10.77.2.254' },
            { role: 'client', address: '10.77.3.3/24', gateway: '10.77.3.254' },
          ],
          switchAddresses: ['10.77.0.254/32', '10.77.100.1/32'],
        },
        'the plan follows the topology',
      );
    });

    it('refuses a client no route covers, naming its address', async () => {
      const topology = await loadTopology('p4/control-plane/netns.yaml');
      assert.throws(() => netnsPlanFromTopology(topology, [{ role: 'client', ipv4: '192.0.2.1' }]), {
        code: 'ERR_TESTBED_COMMAND_FAILED',
        message: /no route covering 192\.0\.2\.1/,
      });
    });
  });

  describe('NetnsTestbed', () => {
    it('links every host to the switch namespace: a host reaches a switch address over its veth', async () => {
      const testbed = await NetnsTestbed.create(PLAN);
      try {
        const output = inNamespace(testbed.namespace('left'), ['ping', '-c', '1', '-W', '5', '10.78.0.254']);
        assert.match(output, /1 received/, `left pings the switch address: ${output}`);
        const route = inNamespace(testbed.namespace('right'), ['ip', 'route', 'show', 'default']);
        assert.match(
          route,
          /default via 10\.78\.2\.254 dev eth0/,
          `right routes through the switch: ${route}`,
        );
      } finally {
        await testbed.destroy();
      }
    });

    it('names its namespaces after the run, so two testbeds with the same plan coexist', async () => {
      const first = await NetnsTestbed.create(PLAN);
      const second = await NetnsTestbed.create(PLAN);
      try {
        assert.notEqual(first.runId, second.runId, 'each testbed has its own run id');
        assert.match(
          first.namespace(SWITCH_ROLE),
          new RegExp(`^edgeshift-${process.pid}-[0-9a-f]{4}-switch$`),
        );
        const names = listTestbedNamespaces();
        for (const testbed of [first, second]) {
          for (const role of [SWITCH_ROLE, 'left', 'right']) {
            assert.ok(names.includes(testbed.namespace(role)), `${testbed.namespace(role)} exists`);
          }
        }
      } finally {
        await Promise.all([first.destroy(), second.destroy()]);
      }
    });

    it('stops its processes and deletes its namespaces on destroy, and a second destroy does nothing', async () => {
      const testbed = await NetnsTestbed.create(PLAN);
      const sleeper = testbed.spawn('left', ['sleep', '600']);
      // A grandchild the testbed never saw: found through the namespace itself.
      testbed.spawn('right', ['sh', '-c', 'sleep 600 & wait']);
      const insidePids = await pollUntil(
        () => Promise.resolve(pidsIn(testbed.namespace('right'))),
        (pids) => pids.length === 2,
        { timeoutMs: 10_000, what: 'sh and its sleep inside right' },
      );
      await testbed.destroy();
      assert.equal(sleeper.isRunning, false, 'the process inside the namespace was stopped');
      assert.deepEqual(insidePids.filter(isAlive), [], 'no process of the namespace survives it');
      const names = listTestbedNamespaces();
      for (const role of [SWITCH_ROLE, 'left', 'right']) {
        assert.ok(!names.includes(testbed.namespace(role)), `${testbed.namespace(role)} is gone`);
      }
      await testbed.destroy();
    });

    it('removes what it made when building fails half-way', async () => {
      const ours = (): string[] =>
        listTestbedNamespaces().filter((name) => name.startsWith(`edgeshift-${process.pid}-`));
      const before = ours();
      // The second host's gateway is outside its prefix: adding its default route fails after the first host is built.
      const broken: NetnsPlan = {
        hosts: [PLAN.hosts[0]!, { role: 'right', address: '10.78.2.2/24', gateway: '10.99.0.1' }],
        switchAddresses: [],
      };
      await assert.rejects(NetnsTestbed.create(broken), {
        code: 'ERR_TESTBED_COMMAND_FAILED',
        message: /route add/,
      });
      assert.deepEqual(ours(), before, 'no namespace of the failed testbed is left');
    });

    it('refuses a host role that cannot name an interface', async () => {
      await assert.rejects(
        NetnsTestbed.create({
          hosts: [{ ...PLAN.hosts[0]!, role: 'a-role-longer-than-15' }],
          switchAddresses: [],
        }),
        { code: 'ERR_TESTBED_COMMAND_FAILED', message: /at most 15 bytes/ },
      );
    });
  });

  describe('removeStaleNamespaces', () => {
    it('deletes namespaces of runs whose process has exited and keeps those of live runs', async () => {
      const stale = `edgeshift-${await deadPid()}-abcd-switch`;
      const live = await NetnsTestbed.create(PLAN);
      execFileSync('ip', ['netns', 'add', stale]);
      // A process the dead run left running inside its namespace.
      const orphan = spawn('ip', ['netns', 'exec', stale, 'sleep', '600'], { stdio: 'ignore' });
      const orphanExited = new Promise((resolve) => orphan.once('exit', resolve));
      try {
        await pollUntil(
          () => Promise.resolve(pidsIn(stale)),
          (pids) => pids.length === 1,
          { timeoutMs: 10_000, what: 'the orphan inside the stale namespace' },
        );
        const removed = removeStaleNamespaces();
        assert.ok(removed.includes(stale), `the dead run's namespace is removed: ${removed.join(', ')}`);
        assert.ok(!listTestbedNamespaces().includes(stale), `${stale} is gone`);
        await orphanExited;
        assert.ok(listTestbedNamespaces().includes(live.namespace(SWITCH_ROLE)), 'the live testbed is kept');
      } finally {
        execFileSync('sh', ['-c', `ip netns delete ${stale} 2>/dev/null || true`]);
        await live.destroy();
      }
    });
  });
});
