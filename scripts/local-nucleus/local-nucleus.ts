// The local nucleus: a development and test double of the Greengrass nucleus that serves Greengrass IPC
// (eventstream RPC) on a Unix domain socket so the real SDK client connects unchanged. It owns the component
// registry (SVCUID, version, lifecycle state), configuration, authorization, local pub/sub and the MQTT
// bridge; the recipe runner (component-runner.ts, local-node.ts) registers components and sets their states.
// Invariant: only a registered component's SVCUID opens a connection, and unregistering a component closes its
// connections and drops its subscriptions.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';

import { EdgeShiftError } from '../../components/common/errors.ts';
import { createLogger } from '../../components/common/logger.ts';
import { Authorizer } from './authorization.ts';
import { ConfigurationStore, isPlainObject } from './configuration-store.ts';
import { ConfigurationValidation } from './configuration-validation.ts';
import { DEFAULT_MAX_FRAME_BYTES } from './eventstream-framing.ts';
import { IpcConnection } from './ipc-connection.ts';
import { LocalPubSub } from './local-pubsub.ts';
import { MqttBridge } from './mqtt-bridge.ts';
import { OPERATION_HANDLERS } from './operations/index.ts';
import type { ComponentRecord, ComponentState, NucleusServices } from './operations/operation-context.ts';

export type { ComponentState } from './operations/operation-context.ts';

const log = createLogger('local-nucleus');

/** Greengrass's default `configurationValidationPolicy.timeoutInSeconds` for deployments. */
const DEFAULT_VALIDATION_TIMEOUT_MS = 30_000;

export interface LocalNucleusOptions {
  socketPath: string;
  thingName: string;
  region?: string;
  ggcVersion?: string;
  mqttBrokerUrl?: string;
  /** How long mergeConfiguration waits for a component's validity report before accepting (default 30 s). */
  configurationValidationTimeoutMs?: number;
  /** Frames above this size close the connection (default 16 MiB, the aws-c-event-stream limit). */
  maxFrameBytes?: number;
}

export interface ComponentRegistration {
  name: string;
  version: string;
  /** The component's configuration, including its accessControl policies. */
  configuration: Record<string, unknown>;
}

export interface ConfigurationMergeResult {
  accepted: boolean;
  reason?: string;
}

export interface ComponentStateEvent {
  name: string;
  state: ComponentState;
}

interface RegisteredComponent {
  name: string;
  version: string;
  svcuid: string;
  state: ComponentState;
}

function checkOptions(options: LocalNucleusOptions): void {
  if (typeof options.socketPath !== 'string' || options.socketPath === '') {
    throw new EdgeShiftError('ERR_NUCLEUS_OPTIONS_INVALID', 'socketPath must be a non-empty path');
  }
  if (typeof options.thingName !== 'string' || options.thingName === '') {
    throw new EdgeShiftError('ERR_NUCLEUS_OPTIONS_INVALID', 'thingName must be a non-empty string');
  }
  for (const name of ['configurationValidationTimeoutMs', 'maxFrameBytes'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      throw new EdgeShiftError(
        'ERR_NUCLEUS_OPTIONS_INVALID',
        `${name} must be a positive number, instead got ${String(value)}`,
      );
    }
  }
}

export class LocalNucleus extends EventEmitter<{ 'component-state': [ComponentStateEvent] }> {
  readonly socketPath: string;
  private readonly options: LocalNucleusOptions;
  private readonly components = new Map<string, RegisteredComponent>();
  private readonly connections = new Set<IpcConnection>();
  /** Every accepted socket until it is fully closed, including refused ones still flushing their answer. */
  private readonly sockets = new Set<Socket>();
  private readonly authorizer = new Authorizer();
  private readonly pubsub = new LocalPubSub();
  private readonly configuration = new ConfigurationStore();
  private readonly validation = new ConfigurationValidation();
  private mqttBridge: MqttBridge | undefined;
  private server: Server | undefined;

  constructor(options: LocalNucleusOptions) {
    super();
    checkOptions(options);
    this.options = { ...options };
    this.socketPath = options.socketPath;
    // accessControl can change with any configuration change; policies follow it.
    this.configuration.on('change', ({ componentName, keyPath }) => {
      if (keyPath[0] === 'accessControl') this.refreshPolicies(componentName);
    });
  }

  async start(): Promise<void> {
    if (this.server !== undefined) return;
    if (this.options.mqttBrokerUrl !== undefined) {
      const bridge = new MqttBridge(this.options.mqttBrokerUrl, `${this.options.thingName}-local-nucleus`);
      await bridge.start();
      this.mqttBridge = bridge;
    }
    // A socket file left by a crashed run would make listen fail with EADDRINUSE.
    await rm(this.socketPath, { force: true });
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    log.info('local nucleus listening', { socketPath: this.socketPath, thingName: this.options.thingName });
  }

  registerComponent(registration: ComponentRegistration): { svcuid: string } {
    const { name, version, configuration } = registration;
    if (
      typeof name !== 'string' ||
      name === '' ||
      typeof version !== 'string' ||
      !isPlainObject(configuration)
    ) {
      throw new EdgeShiftError(
        'ERR_NUCLEUS_OPTIONS_INVALID',
        `registerComponent needs a name, a version and a configuration object, instead got ${JSON.stringify(name)}`,
      );
    }
    const existing = this.components.get(name);
    const svcuid = existing?.svcuid ?? randomBytes(16).toString('hex');
    this.components.set(name, { name, version, svcuid, state: existing?.state ?? 'NEW' });
    this.configuration.register(name, configuration);
    this.refreshPolicies(name);
    return { svcuid };
  }

  unregisterComponent(name: string): void {
    if (!this.components.delete(name)) return;
    for (const connection of [...this.connections]) {
      if (connection.componentName === name) connection.close('component unregistered');
    }
    this.configuration.remove(name);
    this.authorizer.removePrincipal(name);
  }

  getConfiguration(name: string): Record<string, unknown> {
    return this.configuration.get(name);
  }

  /**
   * A deployment-style configuration change: the component's validator (if it subscribed) sees the proposed
   * configuration first; a REJECTED report refuses it, an ACCEPTED report or no answer within the timeout
   * accepts it (the documented DeploymentConfigurationValidationPolicy: "the deployment proceeds").
   * Then reset (JSON pointers, back to defaults) and merge apply and update subscribers are notified.
   */
  async mergeConfiguration(
    name: string,
    merge: Record<string, unknown>,
    reset: string[] = [],
  ): Promise<ConfigurationMergeResult> {
    const proposed = this.configuration.preview(name, merge, reset);
    // Like the nucleus, a component is asked to validate only a configuration that would change.
    if (JSON.stringify(proposed) === JSON.stringify(this.configuration.get(name))) return { accepted: true };
    const timeoutMs = this.options.configurationValidationTimeoutMs ?? DEFAULT_VALIDATION_TIMEOUT_MS;
    const outcome = await this.validation.request(name, proposed, timeoutMs);
    if (typeof outcome === 'object' && outcome.status === 'REJECTED') {
      return { accepted: false, reason: outcome.message ?? 'rejected without a message' };
    }
    if (outcome === 'timeout')
      log.warn('no validity report before the timeout; accepting', { component: name });
    this.configuration.applyDeployment(name, merge, reset);
    return { accepted: true };
  }

  getState(name: string): ComponentState {
    return this.component(name).state;
  }

  setState(name: string, state: ComponentState): void {
    const component = this.component(name);
    if (component.state === state) return;
    component.state = state;
    this.emit('component-state', { name, state });
  }

  /** Number of open client connections (for tests and diagnostics). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Number of live local pub/sub subscriptions (for tests and diagnostics). */
  get localSubscriptionCount(): number {
    return this.pubsub.subscriptionCount;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const connection of [...this.connections]) connection.close('nucleus closing');
    // server.close waits for every socket; a refused peer that never hangs up must not stall it.
    for (const socket of this.sockets) socket.destroy();
    if (server !== undefined) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(this.socketPath, { force: true });
    }
    const bridge = this.mqttBridge;
    this.mqttBridge = undefined;
    if (bridge !== undefined) await bridge.close();
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const connection = new IpcConnection(socket, {
      authenticate: (authToken) => this.componentForToken(authToken),
      services: this.services(),
      handlers: OPERATION_HANDLERS,
      maxFrameBytes: this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    });
    this.connections.add(connection);
    connection.onClosed(() => this.connections.delete(connection));
  }

  private componentForToken(authToken: string): string | undefined {
    for (const component of this.components.values()) {
      if (component.svcuid === authToken) return component.name;
    }
    return undefined;
  }

  private services(): NucleusServices {
    return {
      thingName: this.options.thingName,
      authorizer: this.authorizer,
      pubsub: this.pubsub,
      configuration: this.configuration,
      validation: this.validation,
      mqttBridge: this.mqttBridge,
      findComponent: (name): ComponentRecord | undefined => {
        const component = this.components.get(name);
        return component === undefined ? undefined : { ...component };
      },
      reportState: (name, state) => this.setState(name, state),
    };
  }

  private refreshPolicies(name: string): void {
    const accessControl = this.configuration.find(name, ['accessControl']).value;
    this.authorizer.setPolicies(name, accessControl);
  }

  private component(name: string): RegisteredComponent {
    const component = this.components.get(name);
    if (component === undefined) {
      throw new EdgeShiftError(
        'ERR_NUCLEUS_UNKNOWN_COMPONENT',
        `component ${name} is not registered with the local nucleus; call registerComponent first`,
        { context: { component: name } },
      );
    }
    return component;
  }
}
