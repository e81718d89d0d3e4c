import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { hasErrorCode } from '../../../components/common/errors.ts';
import { renderSwitchCommands } from '../../../p4/control-plane/switch-commands.ts';
import { loadTopology } from '../../../p4/control-plane/topology.ts';
import { parseIpv4 } from '../../../p4/protocol/udp-frame.ts';
import { ReferencePipeline } from '../../../p4/reference/pipeline.ts';
import {
  applySwitchCommands,
  labelsFromTopology,
  loadTopologyInto,
  parseValue,
  relayEndpointsFromTopology,
} from '../../../p4/reference/switch-commands.ts';

describe('switch-commands', () => {
  describe('applySwitchCommands', () => {
    it('fills every table from the commands rendered for the lab topology, one entry per table_add', async () => {
      const topology = await loadTopology('p4/control-plane/lab.yaml');
      const commands = renderSwitchCommands(topology);
      const pipeline = new ReferencePipeline();
      loadTopologyInto(pipeline, topology);
      const added = pipeline.tables().reduce((sum, table) => sum + table.entries().length, 0);
      assert.equal(
        added,
        commands.filter((command) => command.startsWith('table_add')).length,
        'one entry per table_add',
      );
      const node = topology.nodes[0]!;
      const entry = pipeline.table('node_table').lookup([node.id]);
      assert.deepEqual(
        [entry.hit, entry.params.ipv4_addr, entry.params.port],
        [true, parseIpv4(node.ipv4), node.switchPort],
        `node ${node.name} is in node_table with its address and port`,
      );
      assert.equal(
        pipeline.table('policy_table').defaultAction.params.load_high_bp,
        topology.policy.loadHighBp,
      );
    });

    const lines: { command: string; check: (pipeline: ReferencePipeline) => void }[] = [
      {
        command:
          'table_add EdgeShiftIngress.ipv4_lpm EdgeShiftIngress.ipv4_forward 10.0.3.0/24 => 00:00:0a:00:03:03 3',
        check: (pipeline) =>
          assert.equal(pipeline.table('ipv4_lpm').lookup([parseIpv4('10.0.3.7')]).params.port, 3),
      },
      {
        command: 'table_add service_table balance_between 10.0.100.1 9100 => 2 1 2',
        check: (pipeline) =>
          assert.equal(
            pipeline.table('service_table').lookup([parseIpv4('10.0.100.1'), 9100]).params.node_b,
            2,
          ),
      },
      {
        command: 'table_set_default policy_table set_policy 9000 4000 5 10 0',
        check: (pipeline) =>
          assert.equal(pipeline.table('policy_table').defaultAction.params.overload_reports, 5),
      },
      {
        command: 'register_write service_epoch 3 0x10',
        check: (pipeline) => assert.equal(pipeline.readRegister('service_epoch', 3), 16),
      },
    ];
    for (const { command, check } of lines) {
      it(command, () => {
        const pipeline = new ReferencePipeline();
        applySwitchCommands(pipeline, [command]);
        check(pipeline);
      });
    }

    const bad = [
      'table_add node_table set_node 1 => 10.0.1.1',
      'table_add ipv4_lpm ipv4_forward => 1 2',
      'mirroring_add 1 2',
      'table_add node_table set_node 1 => 10.0.1.1 zz 1 2 1',
    ];
    for (const command of bad) {
      it(`refuses '${command}' naming the command`, () => {
        assert.throws(
          () =>
            applySwitchCommands(new ReferencePipeline(), [
              'table_set_default policy_table set_policy 1 0 1 1 0',
              command,
            ]),
          (err: unknown) =>
            hasErrorCode(err, 'ERR_DATAPLANE_BAD_ENTRY') &&
            (err as Error).message.startsWith('switch command 2'),
        );
      });
    }
  });

  describe('parseValue', () => {
    const cases: [string, number][] = [
      ['42', 42],
      ['0x2a', 42],
      ['10.0.1.1', 0x0a000101],
      ['02:00:00:00:00:0b', 0x02000000000b],
    ];
    for (const [input, expected] of cases) {
      it(input, () => assert.equal(parseValue(input), expected));
    }
  });

  describe('relayEndpointsFromTopology and labelsFromTopology', () => {
    it('maps nodes, services, routes and names of the local topology', async () => {
      const topology = await loadTopology('p4/control-plane/local.yaml');
      const endpoints = relayEndpointsFromTopology(topology);
      assert.equal(endpoints.dataPlaneAddress, topology.dataPlane.ipv4);
      assert.deepEqual(
        endpoints.services.map((service) => `${service.vip}:${service.port}`),
        topology.services.map((service) => `${service.vip}:${service.udpPort}`),
      );
      assert.deepEqual(
        endpoints.nodes.map((node) => [node.ipv4, node.port]),
        topology.nodes.map((node) => [node.ipv4, node.switchPort]),
      );
      const labels = labelsFromTopology(topology);
      assert.equal(labels.nodes.get(topology.nodes[0]!.id), topology.nodes[0]!.name);
    });
  });
});
