// Fills the reference pipeline from a topology with exactly the commands BMv2 gets: the topology is
// rendered by p4/control-plane/switch-commands.ts into simple_switch_CLI lines, and this module
// applies those lines (table_add, table_set_default, register_write) to the pipeline. Also derives
// the relay's endpoints and the admin interface's labels from the same topology.
// Invariant: the reference and BMv2 tables come from one rendering of one topology file.
import { EdgeShiftError } from '../../components/common/errors.ts';
import { renderSwitchCommands } from '../control-plane/switch-commands.ts';
import type { Topology } from '../control-plane/topology.ts';
import { parseIpv4, parseMac } from '../protocol/udp-frame.ts';
import type { ReferencePipeline } from './pipeline.ts';
import type { KeyMatch, MatchTable } from './tables.ts';
import type { RelayEndpoints } from './udp-relay.ts';

/** Names for node and service ids, shown beside register indexes by the admin interface and logs. */
export interface DataPlaneLabels {
  readonly nodes: ReadonlyMap<number, string>;
  readonly services: ReadonlyMap<number, string>;
}

export function loadTopologyInto(pipeline: ReferencePipeline, topology: Topology): void {
  applySwitchCommands(pipeline, renderSwitchCommands(topology));
}

export function labelsFromTopology(topology: Topology): DataPlaneLabels {
  return {
    nodes: new Map(topology.nodes.map((node) => [node.id, node.name])),
    services: new Map(topology.services.map((service) => [service.id, service.name])),
  };
}

/**
 * The relay's sockets and ports: nodes by address, services by VIP:port; a sender that is not a node
 * enters on the port of the route that covers it (as on a switch), else on `fallbackUplinkPort`.
 */
export function relayEndpointsFromTopology(topology: Topology, fallbackUplinkPort = 0): RelayEndpoints {
  return {
    dataPlaneAddress: topology.dataPlane.ipv4,
    dataPlaneMac: topology.dataPlane.mac,
    uplinkPort: fallbackUplinkPort,
    uplinkMac: '02:00:00:00:00:01',
    uplinkRoutes: topology.routes.map((route) => {
      const [address = '', length = '32'] = route.prefix.split('/');
      return { prefix: parseIpv4(address), prefixLength: Number(length), port: route.switchPort };
    }),
    nodes: topology.nodes.map((node) => ({ ipv4: node.ipv4, mac: node.mac, port: node.switchPort })),
    services: topology.services.map((service) => ({ vip: service.vip, port: service.udpPort })),
  };
}

/** Applies simple_switch_CLI lines; throws ERR_DATAPLANE_BAD_ENTRY naming the line on the first bad one. */
export function applySwitchCommands(pipeline: ReferencePipeline, commands: readonly string[]): void {
  commands.forEach((command, i) => {
    try {
      applyCommand(pipeline, command.trim());
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new EdgeShiftError(
        'ERR_DATAPLANE_BAD_ENTRY',
        `switch command ${i + 1} '${command}': ${message}`,
        {
          context: { command },
          cause: err,
        },
      );
    }
  });
}

function applyCommand(pipeline: ReferencePipeline, command: string): void {
  const [verb = '', ...words] = command.split(/\s+/);
  if (verb === '' || verb.startsWith('#')) return;
  if (verb === 'table_set_default') {
    const [tableName = '', actionName = '', ...params] = words;
    const table = pipeline.table(tableName);
    pipeline.setDefault(table.name, actionName, positionalParams(pipeline, table, actionName, params));
    return;
  }
  if (verb === 'table_add') {
    const [tableName = '', actionName = '', ...rest] = words;
    const arrow = rest.indexOf('=>');
    const keyWords = arrow < 0 ? rest : rest.slice(0, arrow);
    const table = pipeline.table(tableName);
    const paramCount = pipeline.actionDefinition(table, actionName).params.length;
    const paramWords = arrow < 0 ? [] : rest.slice(arrow + 1, arrow + 1 + paramCount);
    const priorityWord = arrow < 0 ? undefined : rest[arrow + 1 + paramCount];
    const keys = positionalKeys(table, keyWords);
    const params = positionalParams(pipeline, table, actionName, paramWords);
    const priority = priorityWord === undefined ? undefined : parseValue(priorityWord);
    pipeline.addEntry(table.name, keys, actionName, params, priority);
    return;
  }
  if (verb === 'register_write') {
    const [name = '', index = '', value = ''] = words;
    pipeline.writeRegister(name, parseValue(index), parseValue(value));
    return;
  }
  throw new Error(`unsupported command '${verb}'`);
}

function positionalKeys(table: MatchTable, words: readonly string[]): Record<string, KeyMatch> {
  const definitions = table.definition.keys;
  if (words.length !== definitions.length) {
    throw new Error(`table ${table.name} has ${definitions.length} key fields, got ${words.length}`);
  }
  const keys: Record<string, KeyMatch> = {};
  definitions.forEach((key, i) => {
    const word = words[i] ?? '';
    if (key.matchKind === 'lpm') {
      const [value = '', length] = word.split('/');
      keys[key.name] = {
        kind: 'lpm',
        value: parseValue(value),
        prefixLength: length === undefined ? key.widthBits : parseValue(length),
      };
    } else if (key.matchKind === 'ternary') {
      const [value = '', mask] = word.split('&&&');
      keys[key.name] = {
        kind: 'ternary',
        value: parseValue(value),
        mask: mask === undefined ? 2 ** key.widthBits - 1 : parseValue(mask),
      };
    } else {
      keys[key.name] = { kind: 'exact', value: parseValue(word) };
    }
  });
  return keys;
}

function positionalParams(
  pipeline: ReferencePipeline,
  table: MatchTable,
  actionName: string,
  words: readonly string[],
): Record<string, number> {
  const definition = pipeline.actionDefinition(table, actionName);
  if (words.length !== definition.params.length) {
    throw new Error(
      `action ${definition.name} takes ${definition.params.length} parameters, got ${words.length}`,
    );
  }
  return Object.fromEntries(definition.params.map((param, i) => [param.name, parseValue(words[i] ?? '')]));
}

/** simple_switch_CLI values: decimal, 0x hex, dotted IPv4 or colon-separated MAC. */
export function parseValue(word: string): number {
  if (/^\d+$/.test(word)) return Number(word);
  if (/^0x[0-9a-f]+$/i.test(word)) return Number.parseInt(word.slice(2), 16);
  if (word.includes('.')) return parseIpv4(word);
  if (word.includes(':')) return parseMac(word).reduce((value, byte) => value * 256 + byte, 0);
  throw new Error(`'${word}' is not a number, IPv4 or MAC address`);
}
