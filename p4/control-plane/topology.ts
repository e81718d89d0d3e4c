// Loads a data-plane topology (p4/control-plane/*.yaml): reads the YAML, validates it once against
// topology.schema.json with ajv (defaults filled in) and against the cross-field rules a schema cannot
// say, then hands out a deep-frozen, typed Topology. Callers: scripts/generate-switch-commands.ts and
// the reference data plane. Invariant: a Topology that loads gives table entries BMv2 accepts.
import { readFile } from 'node:fs/promises';

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseDocument } from 'yaml';

import { EdgeShiftError } from '../../components/common/errors.ts';
import { EDGESHIFT_UDP_PORT, NODE_COUNT, SERVICE_COUNT } from '../protocol/edgeshift-protocol.ts';
import { parseIpv4, parseMac } from '../protocol/udp-frame.ts';

export interface TopologyNode {
  readonly name: string;
  /** Node id in EdgeShift headers, 1..NODE_COUNT-1. */
  readonly id: number;
  readonly ipv4: string;
  readonly mac: string;
  /** Switch port the node is attached to (BMv2 egress/ingress port). */
  readonly switchPort: number;
  /** Name of the node this one may offload to. */
  readonly peer?: string;
  /** Name of the service ADVICE asks this node to move. */
  readonly offloadService?: string;
}

export interface TopologyService {
  readonly name: string;
  /** Service id in EdgeShift headers, 1..SERVICE_COUNT-1. */
  readonly id: number;
  readonly kind: 'stateful' | 'stateless';
  readonly vip: string;
  /** Port of the service on its VIP and on every node. */
  readonly udpPort: number;
  /** Stateless services only: node names [node_a, node_b]. */
  readonly balanceBetween?: readonly [string, string];
}

export interface TopologyRoute {
  /** IPv4 prefix `a.b.c.d/len`. */
  readonly prefix: string;
  readonly nextHopMac: string;
  readonly switchPort: number;
}

export interface TopologyPolicy {
  readonly loadHighBp: number;
  readonly loadLowBp: number;
  readonly overloadReports: number;
  readonly livenessReports: number;
  /** 0 = wall-clock liveness off. */
  readonly livenessTimeoutUs: number;
}

export interface Topology {
  readonly name: string;
  readonly description?: string;
  /** The data plane's own addresses; nodes send control packets there on EDGESHIFT_UDP_PORT. */
  readonly dataPlane: { readonly ipv4: string; readonly mac: string };
  readonly nodes: readonly TopologyNode[];
  readonly services: readonly TopologyService[];
  readonly routes: readonly TopologyRoute[];
  readonly policy: TopologyPolicy;
}

/** A rule across fields: returns what is wrong, naming the field, or undefined. */
type TopologyRule = (topology: Topology) => string | undefined;

const SCHEMA_URL = new URL('./topology.schema.json', import.meta.url);

let compiledSchema: Promise<ValidateFunction<Topology>> | undefined;

function compileSchema(): Promise<ValidateFunction<Topology>> {
  // strictRequired is off: the stateless-only "balanceBetween" rule names a property of the parent schema.
  compiledSchema ??= readFile(SCHEMA_URL, 'utf8').then((text) => {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictRequired: false });
    return ajv.compile<Topology>(JSON.parse(text) as object);
  });
  return compiledSchema;
}

function firstDuplicate(values: readonly (string | number)[]): string | number | undefined {
  const seen = new Set<string | number>();
  for (const value of values) {
    if (seen.has(value)) return value;
    seen.add(value);
  }
  return undefined;
}

function unique(label: string, values: readonly (string | number)[]): string | undefined {
  const duplicate = firstDuplicate(values);
  return duplicate === undefined ? undefined : `${label} ${duplicate} appears twice`;
}

function badAddress(label: string, parse: (text: string) => unknown, text: string): string | undefined {
  try {
    parse(text);
    return undefined;
  } catch {
    return `${label} '${text}' is not a valid address`;
  }
}

function checkAddresses(topology: Topology): string | undefined {
  const checks: [string, (text: string) => unknown, string][] = [
    ['/dataPlane/ipv4', parseIpv4, topology.dataPlane.ipv4],
    ['/dataPlane/mac', parseMac, topology.dataPlane.mac],
    ...topology.nodes.flatMap((node, i): [string, (text: string) => unknown, string][] => [
      [`/nodes/${i}/ipv4`, parseIpv4, node.ipv4],
      [`/nodes/${i}/mac`, parseMac, node.mac],
    ]),
    ...topology.services.map((service, i): [string, (text: string) => unknown, string] => [
      `/services/${i}/vip`,
      parseIpv4,
      service.vip,
    ]),
  ];
  for (const [label, parse, text] of checks) {
    const problem = badAddress(label, parse, text);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function checkNodes(topology: Topology): string | undefined {
  const outOfRange = topology.nodes.find((node) => node.id < 1 || node.id >= NODE_COUNT);
  if (outOfRange !== undefined)
    return `/nodes ${outOfRange.name}: id ${outOfRange.id} not in 1..${NODE_COUNT - 1}`;
  const addresses = [topology.dataPlane.ipv4, ...topology.nodes.map((node) => node.ipv4)];
  return (
    unique(
      '/nodes id',
      topology.nodes.map((node) => node.id),
    ) ??
    unique(
      '/nodes name',
      topology.nodes.map((node) => node.name),
    ) ??
    unique('/nodes ipv4 (or the data plane address)', addresses) ??
    unique(
      '/nodes mac',
      topology.nodes.map((node) => node.mac.toLowerCase()),
    )
  );
}

function checkPeers(topology: Topology): string | undefined {
  const nodeNames = new Set(topology.nodes.map((node) => node.name));
  const serviceNames = new Set(topology.services.map((service) => service.name));
  for (const node of topology.nodes) {
    if (node.peer !== undefined && !nodeNames.has(node.peer))
      return `/nodes ${node.name}: peer '${node.peer}' is not a node`;
    if (node.peer === node.name) return `/nodes ${node.name}: peer is the node itself`;
    if (node.offloadService !== undefined && !serviceNames.has(node.offloadService)) {
      return `/nodes ${node.name}: offloadService '${node.offloadService}' is not a service`;
    }
  }
  return undefined;
}

function checkServices(topology: Topology): string | undefined {
  const nodeNames = new Set(topology.nodes.map((node) => node.name));
  for (const service of topology.services) {
    if (service.id < 1 || service.id >= SERVICE_COUNT) {
      return `/services ${service.name}: id ${service.id} not in 1..${SERVICE_COUNT - 1}`;
    }
    if (service.udpPort === EDGESHIFT_UDP_PORT) {
      return `/services ${service.name}: udpPort ${service.udpPort} is the EdgeShift control port`;
    }
    if (nodeNames.has(service.name)) return `/services ${service.name}: a node has the same name`;
    const [nodeA, nodeB] = service.balanceBetween ?? [];
    for (const balanced of [nodeA, nodeB]) {
      if (balanced !== undefined && !nodeNames.has(balanced)) {
        return `/services ${service.name}: balanceBetween names '${balanced}', which is not a node`;
      }
    }
    if (nodeA !== undefined && nodeA === nodeB)
      return `/services ${service.name}: balanceBetween names ${nodeA} twice`;
  }
  // reply_table is keyed by (node address, service port), so a port identifies one service.
  return (
    unique(
      '/services id',
      topology.services.map((service) => service.id),
    ) ??
    unique(
      '/services name',
      topology.services.map((service) => service.name),
    ) ??
    unique(
      '/services udpPort',
      topology.services.map((service) => service.udpPort),
    )
  );
}

function checkRoutes(topology: Topology): string | undefined {
  for (const [i, route] of topology.routes.entries()) {
    const [address = '', lengthText = ''] = route.prefix.split('/');
    const prefixLength = Number(lengthText);
    if (badAddress(`/routes/${i}/prefix`, parseIpv4, address) !== undefined || prefixLength > 32) {
      return `/routes/${i}/prefix '${route.prefix}' is not an IPv4 prefix`;
    }
    const hostBits = prefixLength === 32 ? 0 : parseIpv4(address) % 2 ** (32 - prefixLength);
    if (hostBits !== 0) return `/routes/${i}/prefix '${route.prefix}' has host bits set`;
    const problem = badAddress(`/routes/${i}/nextHopMac`, parseMac, route.nextHopMac);
    if (problem !== undefined) return problem;
  }
  return unique(
    '/routes prefix',
    topology.routes.map((route) => route.prefix),
  );
}

function checkPolicy(topology: Topology): string | undefined {
  const { loadHighBp, loadLowBp } = topology.policy;
  if (loadHighBp <= loadLowBp) {
    return `/policy loadHighBp ${loadHighBp} must be above loadLowBp ${loadLowBp} (hysteresis)`;
  }
  return undefined;
}

const RULES: readonly TopologyRule[] = [
  checkAddresses,
  checkNodes,
  checkPeers,
  checkServices,
  checkRoutes,
  checkPolicy,
];

function describeAjvError(error: ErrorObject): string {
  const path = error.instancePath === '' ? '/' : error.instancePath;
  return `${path} ${error.message ?? 'is invalid'}`;
}

function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const inner of Object.values(value)) deepFreeze(inner);
  return Object.freeze(value);
}

function invalid(source: string, reason: string): EdgeShiftError {
  return new EdgeShiftError('ERR_TOPOLOGY_INVALID', `topology ${source} rejected: ${reason}`, {
    context: { topology: source },
  });
}

/** Validates a parsed document (e.g. from YAML or JSON); `source` names it in error messages. */
export async function validateTopology(document: unknown, source = 'document'): Promise<Topology> {
  const validate = await compileSchema();
  const copy: unknown = structuredClone(document ?? {});
  if (!validate(copy)) {
    throw invalid(source, (validate.errors ?? []).map(describeAjvError).join('; '));
  }
  for (const rule of RULES) {
    const problem = rule(copy);
    if (problem !== undefined) throw invalid(source, problem);
  }
  return deepFreeze(copy);
}

export async function loadTopology(path: string): Promise<Topology> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new EdgeShiftError('ERR_TOPOLOGY_UNREADABLE', `cannot read topology ${path}: ${String(cause)}`, {
      context: { topology: path },
      cause,
    });
  }
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    throw new EdgeShiftError(
      'ERR_TOPOLOGY_UNREADABLE',
      `topology ${path} is not valid YAML: ${document.errors[0]?.message ?? 'parse error'}`,
      { context: { topology: path } },
    );
  }
  return validateTopology(document.toJS(), path);
}

/** Looks a node up by name; the loader guarantees that names used inside a topology exist. */
export function nodeByName(topology: Topology, name: string): TopologyNode {
  const node = topology.nodes.find((candidate) => candidate.name === name);
  if (node === undefined) throw new RangeError(`no node named ${name} in topology ${topology.name}`);
  return node;
}

export function serviceByName(topology: Topology, name: string): TopologyService {
  const service = topology.services.find((candidate) => candidate.name === name);
  if (service === undefined) throw new RangeError(`no service named ${name} in topology ${topology.name}`);
  return service;
}
