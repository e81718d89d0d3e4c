import assert from 'node:assert/strict';

import { renderSwitchCommands } from '../../../p4/control-plane/switch-commands.ts';
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
