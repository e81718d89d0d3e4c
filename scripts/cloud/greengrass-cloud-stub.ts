// A local HTTP stand-in for the AWS IoT Greengrass v2 control plane, speaking the REST/JSON paths the
// real @aws-sdk/client-greengrassv2 uses (createComponentVersion, deployments, effectiveDeployments,
// components), so deployment and cloud-triggered reconfiguration run with no AWS account. A deployment
// for a thing is handed to the registered device handler (a LocalNode's configuration merge); without
// one it stays QUEUED, as for an offline device. One deployment per target: a new one supersedes the last.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { parse as parseYaml } from 'yaml';

import { createLogger } from '../../components/common/logger.ts';

const log = createLogger('greengrass-cloud-stub');

export interface DeploymentComponentUpdate {
  readonly componentVersion: string;
  readonly merge?: Record<string, unknown>;
  readonly reset?: readonly string[];
}

/** What a device does with a deployment; resolves with the outcome the cloud then reports. */
export type DeviceDeploymentHandler = (
  components: Readonly<Record<string, DeploymentComponentUpdate>>,
) => Promise<{ readonly succeeded: boolean; readonly reason?: string }>;

type ExecutionStatus = 'QUEUED' | 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED';

interface StoredDeployment {
  readonly deploymentId: string;
  readonly deploymentName: string;
  readonly targetArn: string;
  readonly thingName: string;
  readonly components: Readonly<Record<string, DeploymentComponentUpdate>>;
  readonly creationTimestamp: number;
  modifiedTimestamp: number;
  status: ExecutionStatus;
  reason?: string;
}

interface StoredComponentVersion {
  readonly componentName: string;
  readonly componentVersion: string;
  readonly arn: string;
  readonly creationTimestamp: number;
}

class RequestError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requireString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new RequestError(400, 'ValidationException', `${field} must be a non-empty string`);
  }
  return value;
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let value: unknown;
  try {
    value = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new RequestError(400, 'ValidationException', 'request body is not JSON');
  }
  if (!isRecord(value))
    throw new RequestError(400, 'ValidationException', 'request body is not a JSON object');
  return value;
}

function thingNameOf(targetArn: string): string {
  const match = /^arn:aws:iot:[^:]*:\d*:thing\/(.+)$/.exec(targetArn);
  if (match?.[1] === undefined) {
    throw new RequestError(400, 'ValidationException', `targetArn '${targetArn}' is not an IoT thing ARN`);
  }
  return match[1];
}

function parseComponentUpdates(value: unknown): Record<string, DeploymentComponentUpdate> {
  if (!isRecord(value)) throw new RequestError(400, 'ValidationException', 'components must be an object');
  const updates: Record<string, DeploymentComponentUpdate> = {};
  for (const [name, spec] of Object.entries(value)) {
    if (!isRecord(spec))
      throw new RequestError(400, 'ValidationException', `components.${name} must be an object`);
    const componentVersion = requireString(spec, 'componentVersion');
    const configurationUpdate = isRecord(spec.configurationUpdate) ? spec.configurationUpdate : {};
    let merge: Record<string, unknown> | undefined;
    if (typeof configurationUpdate.merge === 'string') {
      const parsed: unknown = JSON.parse(configurationUpdate.merge);
      if (!isRecord(parsed)) {
        throw new RequestError(
          400,
          'ValidationException',
          `components.${name}.configurationUpdate.merge is not a JSON object`,
        );
      }
      merge = parsed;
    }
    const reset = Array.isArray(configurationUpdate.reset)
      ? configurationUpdate.reset.filter((path): path is string => typeof path === 'string')
      : undefined;
    updates[name] = { componentVersion, ...(merge ? { merge } : {}), ...(reset ? { reset } : {}) };
  }
  return updates;
}

export class GreengrassCloudStub {
  readonly #server: Server;
  readonly #region: string;
  readonly #accountId = '123456789012';
  readonly #componentVersions = new Map<string, StoredComponentVersion>();
  readonly #deployments = new Map<string, StoredDeployment>();
  readonly #devices = new Map<string, DeviceDeploymentHandler>();

  constructor(options: { region?: string } = {}) {
    this.#region = options.region ?? 'eu-central-1';
    this.#server = createServer((request, response) => void this.#handle(request, response));
  }

  async start(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  thingArn(thingName: string): string {
    return `arn:aws:iot:${this.#region}:${this.#accountId}:thing/${thingName}`;
  }

  /** A core device comes online: queued and future deployments for it are applied by `handler`. */
  registerDevice(thingName: string, handler: DeviceDeploymentHandler): void {
    this.#devices.set(thingName, handler);
    for (const deployment of this.#deployments.values()) {
      if (deployment.thingName === thingName && deployment.status === 'QUEUED') void this.#apply(deployment);
    }
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      if (request.headers.authorization?.startsWith('AWS4-HMAC-SHA256') !== true) {
        throw new RequestError(403, 'AccessDeniedException', 'request is not SigV4-signed');
      }
      const { statusCode, body } = await this.#route(request);
      response.writeHead(statusCode, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    } catch (err) {
      const failure =
        err instanceof RequestError ? err : new RequestError(500, 'InternalServerException', String(err));
      response
        .writeHead(failure.statusCode, {
          'content-type': 'application/json',
          'x-amzn-errortype': failure.errorType,
        })
        .end(JSON.stringify({ message: failure.message }));
    }
  }

  async #route(request: IncomingMessage): Promise<{ statusCode: number; body: unknown }> {
    const url = new URL(request.url ?? '/', 'http://stub');
    const path = url.pathname;
    if (request.method === 'POST' && path === '/greengrass/v2/createComponentVersion') {
      return { statusCode: 201, body: this.#createComponentVersion(await readJson(request)) };
    }
    if (request.method === 'POST' && path === '/greengrass/v2/deployments') {
      return { statusCode: 201, body: this.#createDeployment(await readJson(request)) };
    }
    if (request.method === 'GET' && path === '/greengrass/v2/components') {
      return { statusCode: 200, body: this.#listComponents() };
    }
    const deployment = /^\/greengrass\/v2\/deployments\/([^/]+)$/.exec(path);
    if (request.method === 'GET' && deployment?.[1] !== undefined) {
      return { statusCode: 200, body: this.#getDeployment(decodeURIComponent(deployment[1])) };
    }
    const effective = /^\/greengrass\/v2\/coreDevices\/([^/]+)\/effectiveDeployments$/.exec(path);
    if (request.method === 'GET' && effective?.[1] !== undefined) {
      return { statusCode: 200, body: this.#listEffectiveDeployments(decodeURIComponent(effective[1])) };
    }
    throw new RequestError(
      404,
      'ResourceNotFoundException',
      `${request.method} ${path} is not served by this stub`,
    );
  }

  #createComponentVersion(body: Record<string, unknown>): unknown {
    const recipeText = Buffer.from(requireString(body, 'inlineRecipe'), 'base64').toString('utf8');
    let recipe: unknown;
    try {
      recipe = parseYaml(recipeText);
    } catch (err) {
      throw new RequestError(
        400,
        'ValidationException',
        `inlineRecipe is neither JSON nor YAML: ${String(err)}`,
      );
    }
    if (!isRecord(recipe))
      throw new RequestError(400, 'ValidationException', 'inlineRecipe is not an object');
    const componentName = requireString(recipe, 'ComponentName');
    const componentVersion = requireString(recipe, 'ComponentVersion');
    if (componentName.startsWith('aws.greengrass')) {
      throw new RequestError(
        400,
        'ValidationException',
        `ComponentName ${componentName} uses the reserved aws.greengrass prefix`,
      );
    }
    const key = `${componentName}@${componentVersion}`;
    if (this.#componentVersions.has(key)) {
      throw new RequestError(409, 'ConflictException', `component version ${key} already exists`);
    }
    const stored: StoredComponentVersion = {
      componentName,
      componentVersion,
      arn: `arn:aws:greengrass:${this.#region}:${this.#accountId}:components:${componentName}:versions:${componentVersion}`,
      creationTimestamp: Date.now() / 1000,
    };
    this.#componentVersions.set(key, stored);
    return { ...stored, status: { componentState: 'DEPLOYABLE', message: 'NONE', errors: {} } };
  }

  #listComponents(): unknown {
    const latest = new Map<string, StoredComponentVersion>();
    for (const version of this.#componentVersions.values()) latest.set(version.componentName, version);
    return {
      components: [...latest.values()].map((version) => ({
        arn: version.arn.replace(/:versions:.*$/, ''),
        componentName: version.componentName,
        latestVersion: {
          arn: version.arn,
          componentVersion: version.componentVersion,
          creationTimestamp: version.creationTimestamp,
        },
      })),
    };
  }

  #createDeployment(body: Record<string, unknown>): unknown {
    const targetArn = requireString(body, 'targetArn');
    const components = parseComponentUpdates(body.components);
    for (const [name, update] of Object.entries(components)) {
      if (!this.#componentVersions.has(`${name}@${update.componentVersion}`)) {
        throw new RequestError(
          400,
          'ValidationException',
          `component ${name} version ${update.componentVersion} does not exist`,
        );
      }
    }
    const now = Date.now() / 1000;
    const stored: StoredDeployment = {
      deploymentId: randomUUID(),
      deploymentName: typeof body.deploymentName === 'string' ? body.deploymentName : 'Deployment',
      targetArn,
      thingName: thingNameOf(targetArn),
      components,
      creationTimestamp: now,
      modifiedTimestamp: now,
      status: 'QUEUED',
    };
    this.#deployments.set(stored.deploymentId, stored);
    if (this.#devices.has(stored.thingName)) void this.#apply(stored);
    const iotJobId = randomUUID();
    return {
      deploymentId: stored.deploymentId,
      iotJobId,
      iotJobArn: `arn:aws:iot:${this.#region}:${this.#accountId}:job/${iotJobId}`,
    };
  }

  #latestForTarget(targetArn: string): StoredDeployment | undefined {
    return [...this.#deployments.values()].filter((d) => d.targetArn === targetArn).at(-1);
  }

  #getDeployment(deploymentId: string): unknown {
    const stored = this.#deployments.get(deploymentId);
    if (stored === undefined)
      throw new RequestError(404, 'ResourceNotFoundException', `deployment ${deploymentId} not found`);
    const isLatestForTarget = this.#latestForTarget(stored.targetArn) === stored;
    return {
      targetArn: stored.targetArn,
      deploymentId: stored.deploymentId,
      deploymentName: stored.deploymentName,
      deploymentStatus: isLatestForTarget ? 'ACTIVE' : 'INACTIVE',
      components: Object.fromEntries(
        Object.entries(stored.components).map(([name, update]) => [
          name,
          {
            componentVersion: update.componentVersion,
            ...(update.merge || update.reset
              ? {
                  configurationUpdate: {
                    merge: JSON.stringify(update.merge ?? {}),
                    reset: update.reset ?? [],
                  },
                }
              : {}),
          },
        ]),
      ),
      creationTimestamp: stored.creationTimestamp,
      isLatestForTarget,
    };
  }

  #listEffectiveDeployments(thingName: string): unknown {
    return {
      effectiveDeployments: [...this.#deployments.values()]
        .filter((d) => d.thingName === thingName)
        .map((d) => ({
          deploymentId: d.deploymentId,
          deploymentName: d.deploymentName,
          targetArn: d.targetArn,
          coreDeviceExecutionStatus: d.status,
          ...(d.reason === undefined ? {} : { reason: d.reason }),
          creationTimestamp: d.creationTimestamp,
          modifiedTimestamp: d.modifiedTimestamp,
        })),
    };
  }

  async #apply(deployment: StoredDeployment): Promise<void> {
    const handler = this.#devices.get(deployment.thingName);
    if (handler === undefined) return;
    this.#setStatus(deployment, 'IN_PROGRESS');
    try {
      const outcome = await handler(deployment.components);
      this.#setStatus(deployment, outcome.succeeded ? 'SUCCEEDED' : 'FAILED', outcome.reason);
    } catch (err) {
      this.#setStatus(deployment, 'FAILED', err instanceof Error ? err.message : String(err));
    }
  }

  #setStatus(deployment: StoredDeployment, status: ExecutionStatus, reason?: string): void {
    deployment.status = status;
    deployment.modifiedTimestamp = Date.now() / 1000;
    if (reason !== undefined) deployment.reason = reason;
    log.info('deployment status', {
      deploymentId: deployment.deploymentId,
      thing: deployment.thingName,
      status,
      reason,
    });
  }
}
