import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import { parseIpv4 } from '../../../p4/protocol/udp-frame.ts';
import { AdminServer } from '../../../p4/reference/admin-server.ts';
import { ReferencePipeline } from '../../../p4/reference/pipeline.ts';
import type { DataPlaneLabels } from '../../../p4/reference/switch-commands.ts';

const LABELS: DataPlaneLabels = {
  nodes: new Map([
    [1, 'node-a'],
    [2, 'node-b'],
  ]),
  services: new Map([[1, 'sensor-stats']]),
};

type Json = Record<string, unknown>;

describe('admin-server', () => {
  const pipeline = new ReferencePipeline();
  let admin: AdminServer;

  before(async () => {
    pipeline.addEntry('node_table', { node_id: 1 }, 'set_node', {
      ipv4_addr: parseIpv4('127.0.0.11'),
      mac_addr: 0x02000000000b,
      port: 1,
      peer_node_id: 2,
      offload_service_id: 1,
    });
    pipeline.writeRegister('service_owner', 1, 2);
    pipeline.writeRegister('service_epoch', 1, 7);
    pipeline.writeRegister('node_cpu_load', 1, 4321);
    pipeline.writeRegister('node_last_report_clock', 1, 1);
    pipeline.writeRegister('metrics_report_clock', 0, 1);
    admin = await AdminServer.start({
      pipeline,
      labels: LABELS,
      nowUs: () => 5n,
      port: 0,
      stats: () => ({ datagramsIn: 3 }),
    });
  });

  after(() => admin.close());

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
    const response = await fetch(`${admin.url}${path}`, {
      method,
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as Json };
  }

  it('serves every register with node and service labels', async () => {
    const { status, json } = await call('GET', '/registers');
    assert.equal(status, 200);
    const registers = json.registers as {
      name: string;
      values: { index: number; label: string | null; value: number }[];
    }[];
    assert.equal(registers.length, 10, 'all ten registers of the program');
    const owner = registers.find((register) => register.name === 'service_owner');
    assert.deepEqual(
      owner?.values[1],
      { index: 1, label: 'sensor-stats', value: 2 },
      'service 1 is labelled and owned by 2',
    );
    const cpu = registers.find((register) => register.name === 'node_cpu_load');
    assert.deepEqual(cpu?.values[1], { index: 1, label: 'node-a', value: 4321 });
  });

  it('serves one register by suffix', async () => {
    const { status, json } = await call('GET', '/registers/service_epoch');
    assert.equal(status, 200);
    assert.equal(json.name, 'service_epoch');
    assert.deepEqual((json.values as unknown[])[1], { index: 1, label: 'sensor-stats', value: 7 });
  });

  it('serves one register cell by name and index, and refuses an index outside the register', async () => {
    const { status, json } = await call('GET', '/registers/node_cpu_load/1');
    assert.equal(status, 200);
    assert.deepEqual(json, { name: 'node_cpu_load', index: 1, label: 'node-a', value: 4321 });
    const outside = await call('GET', '/registers/node_cpu_load/16');
    assert.equal(outside.status, 400);
    assert.match(
      (outside.json.error as { message: string }).message,
      /index '16' not in 0\.\.15 of node_cpu_load/,
    );
  });

  it('serves nodes with loads and liveness, and services with owner and epoch', async () => {
    const nodes = (await call('GET', '/nodes')).json.nodes as Json[];
    assert.deepEqual(
      nodes.map((node) => [node.nodeId, node.name, node.cpuLoadBp, node.isLive]),
      [
        [1, 'node-a', 4321, true],
        [2, 'node-b', 0, false],
      ],
    );
    const services = (await call('GET', '/services')).json.services as Json[];
    assert.deepEqual(services, [
      { serviceId: 1, name: 'sensor-stats', ownerNodeId: 2, ownerName: 'node-b', epoch: 7 },
    ]);
  });

  it('serves counters with reason names, tables with entries, and relay stats', async () => {
    const counters = (await call('GET', '/counters')).json.counters as { name: string; values: Json[] }[];
    assert.deepEqual(counters[0]?.values[9], { index: 9, reason: 'NO_ROUTE', packets: 0, bytes: 0 });
    const tables = (await call('GET', '/tables')).json.tables as { name: string; entries: Json[] }[];
    const nodeTable = tables.find((table) => table.name === 'EdgeShiftIngress.node_table');
    assert.equal(nodeTable?.entries.length, 1, 'the one node entry');
    assert.deepEqual((await call('GET', '/stats')).json, { datagramsIn: 3 });
  });

  it('adds a table entry given with IPv4, MAC and prefix strings', async () => {
    const { status, json } = await call('POST', '/tables/ipv4_lpm/entries', {
      keys: { dst_addr: '10.0.3.0/24' },
      action: 'ipv4_forward',
      params: { dst_mac: '02:00:00:00:00:03', port: 3 },
    });
    assert.equal(status, 201, JSON.stringify(json));
    assert.deepEqual(json.params, { dst_mac: 0x020000000003, port: 3 });
    const route = pipeline.table('ipv4_lpm').lookup([parseIpv4('10.0.3.9')]);
    assert.deepEqual([route.hit, route.params.port], [true, 3], 'the pipeline uses the new route');
  });

  it('sets a default action', async () => {
    const params = {
      load_high_bp: 9000,
      load_low_bp: 4000,
      overload_reports: 5,
      liveness_reports: 10,
      liveness_timeout_us: 0,
    };
    const { status } = await call('POST', '/tables/policy_table/default', { action: 'set_policy', params });
    assert.equal(status, 200);
    assert.deepEqual(pipeline.table('policy_table').defaultAction.params, params);
  });

  const badRequests: { name: string; path: string; body: unknown; status: number; message: RegExp }[] = [
    {
      name: 'a body that is not JSON',
      path: '/tables/node_table/entries',
      body: '{',
      status: 400,
      message: /not JSON/,
    },
    {
      name: 'a body without action',
      path: '/tables/node_table/entries',
      body: { keys: {} },
      status: 400,
      message: /must have required property 'action'/,
    },
    {
      name: 'an unknown table',
      path: '/tables/nope/entries',
      body: { action: 'x' },
      status: 400,
      message: /no table named 'nope'/,
    },
    {
      name: 'an unknown key field',
      path: '/tables/node_table/entries',
      body: { keys: { bogus: 1 }, action: 'set_node' },
      status: 400,
      message: /no key field 'bogus'/,
    },
    {
      name: 'a parameter too wide',
      path: '/tables/ipv4_lpm/entries',
      body: { keys: { dst_addr: '10.9.0.0/16' }, action: 'ipv4_forward', params: { dst_mac: 1, port: 512 } },
      status: 400,
      message: /port value 512 does not fit 9 bits/,
    },
    {
      name: 'a malformed address',
      path: '/tables/reply_table/entries',
      body: { keys: { src_addr: '10.0.0', src_port: 1 }, action: 'set_vip_source', params: { vip: 1 } },
      status: 400,
      message: /not a valid|four decimal octets/,
    },
  ];
  for (const { name, path, body, status, message } of badRequests) {
    it(`answers 400 with a reason to ${name}, changing nothing`, async () => {
      const entriesBefore = pipeline.tables().map((table) => table.entries().length);
      const response = await call('POST', path, body);
      assert.equal(response.status, status);
      const error = response.json.error as { code: string; message: string };
      assert.match(error.message, message);
      assert.deepEqual(
        pipeline.tables().map((table) => table.entries().length),
        entriesBefore,
        'no table changed',
      );
    });
  }

  it('answers 404 to an unknown path and 405 to a write elsewhere', async () => {
    assert.equal((await call('GET', '/nope')).status, 404);
    assert.equal((await call('DELETE', '/registers')).status, 405);
  });
});
