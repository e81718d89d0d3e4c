import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadTopology, validateTopology, type Topology } from '../../../p4/control-plane/topology.ts';
import {
  CLIENT,
  DATA_PLANE,
  INGEST,
  NODE_A,
  NODE_B,
  SENSOR_STATS,
  VIP,
} from '../../../p4/tests/cases/lab-network.ts';

const LAB = fileURLToPath(new URL('../../../p4/control-plane/lab.yaml', import.meta.url));
const LOCAL = fileURLToPath(new URL('../../../p4/control-plane/local.yaml', import.meta.url));

/** A minimal valid topology document; each invalid case below breaks one rule of it. */
function validDocument(): Record<string, unknown> {
  return {
    name: 'test',
    dataPlane: { ipv4: '10.0.0.254', mac: '00:00:0a:00:00:fe' },
    nodes: [
      {
        name: 'node-a',
        id: 1,
        ipv4: '10.0.1.1',
        mac: '00:00:0a:00:01:01',
        switchPort: 1,
        peer: 'node-b',
        offloadService: 'svc',
      },
      { name: 'node-b', id: 2, ipv4: '10.0.2.2', mac: '00:00:0a:00:02:02', switchPort: 2 },
    ],
    services: [
      { name: 'svc', id: 1, kind: 'stateful', vip: '10.0.100.1', udpPort: 9101 },
      {
        name: 'lb',
        id: 2,
        kind: 'stateless',
        vip: '10.0.100.1',
        udpPort: 9100,
        balanceBetween: ['node-a', 'node-b'],
      },
    ],
    routes: [{ prefix: '10.0.3.0/24', nextHopMac: '00:00:0a:00:03:03', switchPort: 3 }],
    policy: {},
  };
}

type Mutation = (document: Record<string, unknown>) => void;

function nodes(document: Record<string, unknown>): Record<string, unknown>[] {
  return document.nodes as Record<string, unknown>[];
}

function services(document: Record<string, unknown>): Record<string, unknown>[] {
  return document.services as Record<string, unknown>[];
}

const INVALID_CASES: readonly { name: string; mutate: Mutation; message: RegExp }[] = [
  {
    name: 'a missing dataPlane',
    mutate: (d) => delete d.dataPlane,
    message: /must have required property 'dataPlane'/,
  },
  {
    name: 'an unknown top-level field',
    mutate: (d) => (d.extra = 1),
    message: /must NOT have additional properties/,
  },
  { name: 'node id 0', mutate: (d) => (nodes(d)[0]!.id = 0), message: /node-a: id 0 not in 1\.\.15/ },
  { name: 'node id 16', mutate: (d) => (nodes(d)[1]!.id = 16), message: /node-b: id 16 not in 1\.\.15/ },
  {
    name: 'two nodes with one id',
    mutate: (d) => (nodes(d)[1]!.id = 1),
    message: /\/nodes id 1 appears twice/,
  },
  {
    name: 'two nodes with one address',
    mutate: (d) => (nodes(d)[1]!.ipv4 = '10.0.1.1'),
    message: /ipv4.*10\.0\.1\.1 appears twice/,
  },
  {
    name: 'a node on the data plane address',
    mutate: (d) => (nodes(d)[1]!.ipv4 = '10.0.0.254'),
    message: /10\.0\.0\.254 appears twice/,
  },
  {
    name: 'two nodes with one MAC',
    mutate: (d) => (nodes(d)[1]!.mac = '00:00:0A:00:01:01'),
    message: /mac 00:00:0a:00:01:01 appears twice/,
  },
  {
    name: 'an address octet above 255',
    mutate: (d) => (nodes(d)[0]!.ipv4 = '10.0.1.256'),
    message: /\/nodes\/0\/ipv4 '10\.0\.1\.256'/,
  },
  {
    name: 'a peer that is not a node',
    mutate: (d) => (nodes(d)[0]!.peer = 'node-z'),
    message: /peer 'node-z' is not a node/,
  },
  {
    name: 'a node that is its own peer',
    mutate: (d) => (nodes(d)[0]!.peer = 'node-a'),
    message: /peer is the node itself/,
  },
  {
    name: 'an offload service that does not exist',
    mutate: (d) => (nodes(d)[0]!.offloadService = 'nope'),
    message: /offloadService 'nope' is not a service/,
  },
  { name: 'service id 64', mutate: (d) => (services(d)[0]!.id = 64), message: /svc: id 64 not in 1\.\.63/ },
  {
    name: 'two services with one id',
    mutate: (d) => (services(d)[1]!.id = 1),
    message: /\/services id 1 appears twice/,
  },
  {
    name: 'two services on one port',
    mutate: (d) => (services(d)[1]!.udpPort = 9101),
    message: /udpPort 9101 appears twice/,
  },
  {
    name: 'a service on the EdgeShift port',
    mutate: (d) => (services(d)[0]!.udpPort = 7700),
    message: /EdgeShift control port/,
  },
  {
    name: 'a stateless service without balanceBetween',
    mutate: (d) => delete services(d)[1]!.balanceBetween,
    message: /balanceBetween/,
  },
  {
    name: 'a stateful service with balanceBetween',
    mutate: (d) => (services(d)[0]!.balanceBetween = ['node-a', 'node-b']),
    message: /\/services\/0/,
  },
  {
    name: 'balancing to a node that does not exist',
    mutate: (d) => (services(d)[1]!.balanceBetween = ['node-a', 'node-x']),
    message: /'node-x', which is not a node/,
  },
  {
    name: 'balancing between one node twice',
    mutate: (d) => (services(d)[1]!.balanceBetween = ['node-a', 'node-a']),
    message: /names node-a twice/,
  },
  {
    name: 'a route with host bits',
    mutate: (d) => ((d.routes as Record<string, unknown>[])[0]!.prefix = '10.0.3.1/24'),
    message: /host bits set/,
  },
  {
    name: 'a route prefix longer than 32',
    mutate: (d) => ((d.routes as Record<string, unknown>[])[0]!.prefix = '10.0.3.0/33'),
    message: /not an IPv4 prefix/,
  },
  {
    name: 'loadHighBp not above loadLowBp',
    mutate: (d) => (d.policy = { loadHighBp: 5000, loadLowBp: 5000 }),
    message: /loadHighBp 5000 must be above loadLowBp 5000/,
  },
  {
    name: 'a load above 10000 bp',
    mutate: (d) => (d.policy = { loadHighBp: 10001 }),
    message: /\/policy\/loadHighBp must be <= 10000/,
  },
  {
    name: 'a switch port of 511 (the drop port)',
    mutate: (d) => (nodes(d)[0]!.switchPort = 511),
    message: /switchPort must be <= 510/,
  },
];

describe('p4/control-plane/topology', () => {
  describe('loadTopology', () => {
    it('loads the lab topology with the addresses of the STF lab network', async () => {
      const lab = await loadTopology(LAB);
      assert.deepEqual(lab.dataPlane, DATA_PLANE, 'data plane addresses');
      for (const node of [NODE_A, NODE_B]) {
        const loaded = lab.nodes.find((candidate) => candidate.name === node.name);
        assert.deepEqual(
          loaded && [loaded.id, loaded.ipv4, loaded.mac, loaded.switchPort],
          [node.nodeId, node.ipv4, node.mac, node.port],
          `${node.name} must match p4/tests/cases/lab-network.ts`,
        );
      }
      const byName = new Map(lab.services.map((service) => [service.name, service]));
      assert.deepEqual(
        [byName.get('sensor-stats')?.id, byName.get('sensor-stats')?.udpPort],
        [SENSOR_STATS.serviceId, SENSOR_STATS.udpPort],
      );
      assert.deepEqual(
        [byName.get('ingest')?.id, byName.get('ingest')?.udpPort],
        [INGEST.serviceId, INGEST.udpPort],
      );
      assert.ok(
        lab.services.every((service) => service.vip === VIP),
        'every lab service on the STF VIP',
      );
      assert.ok(
        lab.routes.some((route) => route.prefix === '10.0.3.0/24' && route.switchPort === CLIENT.port),
        'client route',
      );
      assert.equal(lab.policy.livenessTimeoutUs, 0, 'the lab never depends on wall-clock time');
    });

    it('loads the local demo topology: nodes on 127.0.0.11/12, data plane 127.0.0.10, VIP 127.0.0.100', async () => {
      const local = await loadTopology(LOCAL);
      assert.equal(local.dataPlane.ipv4, '127.0.0.10');
      assert.deepEqual(
        local.nodes.map((node) => [node.name, node.id, node.ipv4]),
        [
          ['node-a', 1, '127.0.0.11'],
          ['node-b', 2, '127.0.0.12'],
        ],
      );
      assert.deepEqual(
        local.services.map((service) => [
          service.name,
          service.id,
          service.kind,
          service.vip,
          service.udpPort,
        ]),
        [
          ['sensor-stats', 1, 'stateful', '127.0.0.100', 9101],
          ['ingest', 2, 'stateless', '127.0.0.100', 9100],
          ['alert', 3, 'stateless', '127.0.0.100', 9102],
        ],
      );
    });

    it('returns a deep-frozen topology', async () => {
      const lab = await loadTopology(LAB);
      assert.ok(
        Object.isFrozen(lab) && Object.isFrozen(lab.nodes[0]) && Object.isFrozen(lab.policy),
        'frozen',
      );
    });

    it('refuses a missing file with ERR_TOPOLOGY_UNREADABLE', async () => {
      await assert.rejects(loadTopology('/nonexistent/topology.yaml'), { code: 'ERR_TOPOLOGY_UNREADABLE' });
    });

    it('refuses a file that is not YAML with ERR_TOPOLOGY_UNREADABLE', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'edgeshift-topology-'));
      try {
        const path = join(dir, 'broken.yaml');
        await writeFile(path, 'name: [unclosed\n');
        await assert.rejects(loadTopology(path), {
          code: 'ERR_TOPOLOGY_UNREADABLE',
          message: /not valid YAML/,
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('validateTopology', () => {
    it('fills the policy defaults of the P4 program (8000, 5000, 3, 64, 0)', async () => {
      const topology: Topology = await validateTopology(validDocument());
      assert.deepEqual(topology.policy, {
        loadHighBp: 8000,
        loadLowBp: 5000,
        overloadReports: 3,
        livenessReports: 64,
        livenessTimeoutUs: 0,
      });
    });

    it('does not modify the document it is given', async () => {
      const document = validDocument();
      await validateTopology(document);
      assert.deepEqual(document.policy, {}, 'defaults go into a copy');
    });

    for (const { name, mutate, message } of INVALID_CASES) {
      it(`rejects ${name}`, async () => {
        const document = validDocument();
        mutate(document);
        await assert.rejects(validateTopology(document, 'case'), (err: unknown) => {
          assert.equal((err as { code?: string }).code, 'ERR_TOPOLOGY_INVALID', 'error code');
          assert.match((err as Error).message, message, 'the message names the field');
          return true;
        });
      });
    }
  });
});
