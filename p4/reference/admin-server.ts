// The reference data plane's admin interface: JSON over HTTP on loopback, for the debugging CLI.
//   GET  /registers, /registers/<name>[/<index>], /counters, /tables, /nodes, /services, /stats
//   POST /tables/<name>/entries  {keys, action, params, priority?}   POST /tables/<name>/default {action, params}
// Request bodies are validated once here (ajv, then the pipeline's width checks); a bad one gets 400
// with {error: {code, message}} and changes nothing. Invariant: GETs never change the pipeline.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ajv } from 'ajv';
import { EdgeShiftError } from '../../components/common/errors.ts';
import { createLogger, type Logger } from '../../components/common/logger.ts';
import { describeNodes, describeServices } from './data-plane-state.ts';
import type { ReferencePipeline } from './pipeline.ts';
import { DropReason, REGISTERS } from './program.ts';
import { parseValue, type DataPlaneLabels } from './switch-commands.ts';
import type { KeyMatch, MatchTable } from './tables.ts';

export interface AdminServerOptions {
  readonly pipeline: ReferencePipeline;
  readonly labels: DataPlaneLabels;
  readonly nowUs: () => bigint;
  readonly port: number;
  readonly host?: string;
  readonly logger?: Logger;
  /** Extra counters of the socket relay, served at /stats. */
  readonly stats?: () => Readonly<Record<string, number>>;
}

type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue | undefined };

interface EntryBody {
  readonly keys?: Readonly<Record<string, number | string>>;
  readonly action: string;
  readonly params?: Readonly<Record<string, number | string>>;
  readonly priority?: number;
}

const VALUE_SCHEMA = {
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', minLength: 1, maxLength: 64 },
  ],
};
const ENTRY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['action'],
  properties: {
    keys: { type: 'object', additionalProperties: VALUE_SCHEMA },
    action: { type: 'string', minLength: 1, maxLength: 200 },
    params: { type: 'object', additionalProperties: VALUE_SCHEMA },
    priority: { type: 'integer', minimum: 0 },
  },
};
const MAX_BODY_BYTES = 64 * 1024;
const DROP_REASON_NAMES = new Map<number, string>(
  Object.entries(DropReason).map(([name, code]) => [code, name]),
);

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class AdminServer {
  private readonly server: http.Server;
  private readonly options: AdminServerOptions;
  private readonly logger: Logger;
  private readonly validateEntry = new Ajv({ allErrors: true }).compile<EntryBody>(ENTRY_SCHEMA);

  private constructor(options: AdminServerOptions) {
    this.options = options;
    this.logger = options.logger ?? createLogger('admin-server');
    this.server = http.createServer((request, response) => {
      void this.handle(request, response);
    });
  }

  static async start(options: AdminServerOptions): Promise<AdminServer> {
    const admin = new AdminServer(options);
    await new Promise<void>((resolve, reject) => {
      admin.server.once('error', reject);
      admin.server.listen(options.port, options.host ?? '127.0.0.1', () => {
        admin.server.off('error', reject);
        resolve();
      });
    });
    admin.logger.info('admin interface listening', { url: admin.url });
    return admin;
  }

  get url(): string {
    const address = this.server.address() as AddressInfo;
    return `http://${address.address}:${address.port}`;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    try {
      const { status, body } = await this.route(request);
      send(response, status, body);
    } catch (err) {
      if (err instanceof HttpError) {
        send(response, err.status, { error: { code: err.code, message: err.message } });
        return;
      }
      if (err instanceof EdgeShiftError) {
        send(response, 400, { error: { code: err.code, message: err.message } });
        return;
      }
      this.logger.error('admin request failed', { url: request.url, err });
      send(response, 500, { error: { code: 'INTERNAL', message: 'internal error; see the data plane log' } });
    }
  }

  private async route(request: http.IncomingMessage): Promise<{ status: number; body: JsonValue }> {
    const path = new URL(request.url ?? '/', 'http://admin').pathname.replace(/\/+$/, '');
    const parts = path
      .split('/')
      .filter((part) => part !== '')
      .map(decodeURIComponent);
    const method = request.method ?? 'GET';
    const [resource = '', name, sub] = parts;
    if (method === 'POST' && resource === 'tables' && name !== undefined && parts.length === 3) {
      const body = await readJson(request);
      if (sub === 'entries') return { status: 201, body: this.addEntry(name, body) };
      if (sub === 'default') return { status: 200, body: this.setDefault(name, body) };
    }
    if (method !== 'GET') {
      throw new HttpError(
        405,
        'METHOD_NOT_ALLOWED',
        `${method} ${path} is not supported; only POST /tables/<name>/entries|default change state`,
      );
    }
    if (resource === 'registers' && name !== undefined && sub !== undefined && parts.length === 3) {
      return { status: 200, body: this.registerCell(name, sub) };
    }
    if (parts.length === 1 || (resource === 'registers' && parts.length === 2)) {
      const body = this.get(resource, name);
      if (body !== undefined) return { status: 200, body };
    }
    throw new HttpError(
      404,
      'NOT_FOUND',
      `no resource ${path}; try /registers, /counters, /tables, /nodes, /services, /stats`,
    );
  }

  private get(resource: string, name: string | undefined): JsonValue | undefined {
    const { pipeline, labels, nowUs } = this.options;
    switch (resource) {
      case 'registers':
        return name === undefined
          ? { registers: pipeline.registers().map((register) => this.registerView(register.name)) }
          : this.registerView(pipeline.register(name).name);
      case 'counters':
        return {
          counters: pipeline.counters().map((counter) => ({
            name: counter.name,
            size: counter.size,
            values: Array.from({ length: counter.size }, (_, index) => ({
              index,
              reason: DROP_REASON_NAMES.get(index) ?? null,
              ...counter.read(index),
            })),
          })),
        };
      case 'tables':
        return { tables: pipeline.tables().map((table) => tableView(table)) };
      case 'nodes':
        return {
          nodes: describeNodes(pipeline, labels, nowUs()).map((node) => ({
            ...node,
            name: node.name ?? null,
          })),
        };
      case 'services':
        return {
          services: describeServices(pipeline, labels).map((service) => ({
            ...service,
            name: service.name ?? null,
            ownerName: service.ownerName ?? null,
          })),
        };
      case 'stats':
        return { ...(this.options.stats?.() ?? {}) };
      default:
        return undefined;
    }
  }

  /** One register cell; an index outside the register is a 400 (the data plane would read 0). */
  private registerCell(name: string, indexText: string): JsonValue {
    const register = this.options.pipeline.register(name);
    const index = Number(indexText);
    if (!/^\d+$/.test(indexText) || index >= register.size) {
      throw new HttpError(
        400,
        'ERR_DATAPLANE_BAD_ENTRY',
        `index '${indexText}' not in 0..${register.size - 1} of ${register.name}`,
      );
    }
    const values = (this.registerView(register.name) as { values: JsonValue[] }).values;
    return { name: register.name, ...(values[index] as Record<string, JsonValue>) };
  }

  private registerView(name: string): JsonValue {
    const { pipeline, labels } = this.options;
    const register = pipeline.register(name);
    const indexedBy = REGISTERS.find((definition) => definition.name === register.name)?.indexedBy ?? 'none';
    const labelOf = (index: number): string | null =>
      (indexedBy === 'node'
        ? labels.nodes.get(index)
        : indexedBy === 'service'
          ? labels.services.get(index)
          : undefined) ?? null;
    return {
      name: register.name,
      widthBits: register.widthBits,
      size: register.size,
      indexedBy,
      values: register.snapshot().map((value, index) => ({ index, label: labelOf(index), value })),
    };
  }

  private addEntry(tableName: string, body: unknown): JsonValue {
    const entry = this.checkBody(body);
    const { pipeline } = this.options;
    const table = pipeline.table(tableName);
    const keys: Record<string, number | KeyMatch> = {};
    for (const [keyName, value] of Object.entries(entry.keys ?? {})) keys[keyName] = toKeyValue(value);
    const added = pipeline.addEntry(table.name, keys, entry.action, toParams(entry.params), entry.priority);
    this.logger.info('table entry added', { table: table.name, action: added.action, handle: added.handle });
    return { table: table.name, handle: added.handle, action: added.action, params: { ...added.params } };
  }

  private setDefault(tableName: string, body: unknown): JsonValue {
    const entry = this.checkBody(body);
    if (entry.keys !== undefined)
      throw new HttpError(400, 'ERR_DATAPLANE_BAD_ENTRY', 'a default action has no keys');
    const { pipeline } = this.options;
    const table = pipeline.table(tableName);
    pipeline.setDefault(table.name, entry.action, toParams(entry.params));
    this.logger.info('default action set', { table: table.name, action: table.defaultAction.action });
    return {
      table: table.name,
      defaultAction: { action: table.defaultAction.action, params: { ...table.defaultAction.params } },
    };
  }

  private checkBody(body: unknown): EntryBody {
    if (this.validateEntry(body)) return body;
    const detail = (this.validateEntry.errors ?? [])
      .map((error) => `${error.instancePath || '(body)'} ${error.message ?? 'is invalid'}`)
      .join('; ');
    throw new HttpError(
      400,
      'ERR_DATAPLANE_BAD_ENTRY',
      `request body: ${detail}; expected {keys?, action, params?, priority?}`,
    );
  }
}

function tableView(table: MatchTable): JsonValue {
  return {
    name: table.name,
    keys: table.definition.keys.map((key) => ({ ...key })),
    actions: [...table.definition.actions],
    defaultAction: { action: table.defaultAction.action, params: { ...table.defaultAction.params } },
    entries: table.entries().map((entry) => ({
      handle: entry.handle,
      keys: entry.keys.map((key) => ({ ...key })),
      action: entry.action,
      params: { ...entry.params },
      priority: entry.priority,
    })),
  };
}

/** A key value: a number, `a.b.c.d/len` (LPM), `value&&&mask` (ternary), or a number/IPv4/MAC string. */
function toKeyValue(value: number | string): number | KeyMatch {
  if (typeof value === 'number') return value;
  try {
    if (value.includes('/')) {
      const [address = '', length = ''] = value.split('/');
      return { kind: 'lpm', value: parseValue(address), prefixLength: parseValue(length) };
    }
    if (value.includes('&&&')) {
      const [bits = '', mask = ''] = value.split('&&&');
      return { kind: 'ternary', value: parseValue(bits), mask: parseValue(mask) };
    }
    return parseValue(value);
  } catch (err) {
    throw new HttpError(400, 'ERR_DATAPLANE_BAD_ENTRY', `key value '${value}': ${(err as Error).message}`);
  }
}

function toParams(params: Readonly<Record<string, number | string>> | undefined): Record<string, number> {
  const converted: Record<string, number> = {};
  for (const [name, value] of Object.entries(params ?? {})) {
    try {
      converted[name] = typeof value === 'number' ? value : parseValue(value);
    } catch (err) {
      throw new HttpError(
        400,
        'ERR_DATAPLANE_BAD_ENTRY',
        `parameter ${name} '${value}': ${(err as Error).message}`,
      );
    }
  }
  return converted;
}

async function readJson(request: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, 'BODY_TOO_LARGE', `request body above ${MAX_BODY_BYTES} bytes`);
    chunks.push(buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (err) {
    throw new HttpError(400, 'BAD_JSON', `request body is not JSON: ${(err as Error).message}`);
  }
}

function send(response: http.ServerResponse, status: number, body: JsonValue): void {
  const text = JSON.stringify(body, null, 2);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}
