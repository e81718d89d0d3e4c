import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { renderSwitchCommands, SWITCH_NAMES } from '../../../p4/control-plane/switch-commands.ts';
import { validateTopology } from '../../../p4/control-plane/topology.ts';

const BASE = {
  name: 'unit',
  dataPlane: { ipv4: '10.0.0.254', mac: '00:00:0a:00:00:fe' },
  nodes: [{ name: 'solo', id: 5, ipv4: '10.0.5.5', mac: 'AA:BB:CC:00:00:05', switchPort: 7 }],
  services: [],
  routes: [],
  policy: {
    loadHighBp: 9000,
    loadLowBp: 1000,
    overloadReports: 5,
    livenessReports: 10,
    livenessTimeoutUs: 250000,
  },
};

const CASES: readonly { name: string; document: Record<string, unknown>; expected: string[] }[] = [
  {
    name: 'a node with no peer and no offload service (ids 0), MAC in lower case',
    document: BASE,
    expected: [
      'table_set_default EdgeShiftIngress.policy_table EdgeShiftIngress.set_policy 9000 1000 5 10 250000',
      'table_add EdgeShiftIngress.node_table EdgeShiftIngress.set_node 5 => 10.0.5.5 aa:bb:cc:00:00:05 7 0 0',
    ],
  },
  {
    name: 'a stateful service: steer_to_owner, and a reply entry per node',
    document: {
      ...BASE,
      services: [{ name: 'db', id: 9, kind: 'stateful', vip: '10.0.100.9', udpPort: 5432 }],
    },
    expected: [
      'table_set_default EdgeShiftIngress.policy_table EdgeShiftIngress.set_policy 9000 1000 5 10 250000',
      'table_add EdgeShiftIngress.node_table EdgeShiftIngress.set_node 5 => 10.0.5.5 aa:bb:cc:00:00:05 7 0 0',
      'table_add EdgeShiftIngress.service_table EdgeShiftIngress.steer_to_owner 10.0.100.9 5432 => 9',
      'table_add EdgeShiftIngress.reply_table EdgeShiftIngress.set_vip_source 10.0.5.5 5432 => 10.0.100.9',
    ],
  },
  {
    name: 'a stateless service balanced between two nodes, in the order given, and a route',
    document: {
      ...BASE,
      nodes: [
        ...BASE.nodes,
        {
          name: 'duo',
          id: 6,
          ipv4: '10.0.6.6',
          mac: '00:00:00:00:00:06',
          switchPort: 8,
          peer: 'solo',
          offloadService: 'web',
        },
      ],
      services: [
        {
          name: 'web',
          id: 4,
          kind: 'stateless',
          vip: '10.0.100.4',
          udpPort: 80,
          balanceBetween: ['duo', 'solo'],
        },
      ],
      routes: [{ prefix: '0.0.0.0/0', nextHopMac: '00:00:00:00:00:01', switchPort: 0 }],
    },
    expected: [
      'table_set_default EdgeShiftIngress.policy_table EdgeShiftIngress.set_policy 9000 1000 5 10 250000',
      'table_add EdgeShiftIngress.node_table EdgeShiftIngress.set_node 5 => 10.0.5.5 aa:bb:cc:00:00:05 7 0 0',
      'table_add EdgeShiftIngress.node_table EdgeShiftIngress.set_node 6 => 10.0.6.6 00:00:00:00:00:06 8 5 4',
      'table_add EdgeShiftIngress.service_table EdgeShiftIngress.balance_between 10.0.100.4 80 => 4 6 5',
      'table_add EdgeShiftIngress.reply_table EdgeShiftIngress.set_vip_source 10.0.5.5 80 => 10.0.100.4',
      'table_add EdgeShiftIngress.reply_table EdgeShiftIngress.set_vip_source 10.0.6.6 80 => 10.0.100.4',
      'table_add EdgeShiftIngress.ipv4_lpm EdgeShiftIngress.ipv4_forward 0.0.0.0/0 => 00:00:00:00:00:01 0',
    ],
  },
];

describe('p4/control-plane/switch-commands', () => {
  describe('renderSwitchCommands', () => {
    for (const { name, document, expected } of CASES) {
      it(`renders ${name}`, async () => {
        const commands = renderSwitchCommands(await validateTopology(document));
        assert.deepEqual(commands, expected, 'simple_switch_CLI commands');
      });
    }

    it('gives the same commands on every run (nothing depends on time)', async () => {
      const topology = await validateTopology(CASES[2]!.document);
      assert.deepEqual(renderSwitchCommands(topology), renderSwitchCommands(topology), 'deterministic');
    });
  });
});

/** Tables of docs/protocol.md §2 with their keys as written there; STF `add` lines use these names. */
const SPEC_TABLES: readonly { table: string; keys: string[]; defaultAction: string }[] = [
  { table: 'node_table', keys: ['meta.node_id: exact'], defaultAction: 'NoAction()' },
  {
    table: 'service_table',
    keys: ['hdr.ipv4.dst_addr: exact', 'hdr.udp.dst_port: exact'],
    defaultAction: 'NoAction()',
  },
  {
    table: 'reply_table',
    keys: ['hdr.ipv4.src_addr: exact', 'hdr.udp.src_port: exact'],
    defaultAction: 'NoAction()',
  },
  { table: 'ipv4_lpm', keys: ['hdr.ipv4.dst_addr: lpm'], defaultAction: 'drop()' },
  { table: 'policy_table', keys: [], defaultAction: 'set_policy(8000, 5000, 3, 64, 0)' },
];

describe('p4/edgeshift.p4 control-plane API', () => {
  const programText = readFile(new URL('../../../p4/edgeshift.p4', import.meta.url), 'utf8');

  function tableBody(program: string, table: string): string {
    const match = new RegExp(`\\btable ${table} \\{([\\s\\S]*?)\\n    \\}`).exec(program);
    assert.ok(match, `table ${table} is not declared in EdgeShiftIngress`);
    return match[1] ?? '';
  }

  for (const { table, keys, defaultAction } of SPEC_TABLES) {
    it(`declares ${table} with the keys of docs/protocol.md and default_action ${defaultAction}`, async () => {
      const body = tableBody(await programText, table);
      const declaredKeys = [...body.matchAll(/^\s+([\w.]+): (exact|lpm|ternary);$/gm)].map(
        (m) => `${m[1]}: ${m[2]}`,
      );
      assert.deepEqual(declaredKeys, keys, `${table} keys`);
      assert.match(
        body,
        new RegExp(`default_action = ${defaultAction.replace(/[()]/g, '\\$&')};`),
        `${table} default`,
      );
    });
  }

  it('applies each table at exactly one place', async () => {
    const program = await programText;
    for (const { table } of SPEC_TABLES) {
      assert.equal(program.split(`${table}.apply()`).length - 1, 1, `${table}.apply() count`);
    }
  });

  it('declares every action the switch commands name, inside EdgeShiftIngress', async () => {
    const program = await programText;
    const ingress = program.slice(program.indexOf('control EdgeShiftIngress('));
    for (const name of Object.values(SWITCH_NAMES)) {
      const local = name.replace(/^EdgeShiftIngress\./, '');
      assert.match(
        ingress,
        new RegExp(`\\b(table|action) ${local}\\b`),
        `${name} is not declared in EdgeShiftIngress`,
      );
    }
  });
});
