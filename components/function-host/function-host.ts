// Assembles one node's function host from its validated configuration: loads the functions, starts
// the request server with a runtime per service, and the control handlers the agent calls, once the
// state-transfer code has passed its self-check (transfer-warm-up.ts). Owned state outlives a clean
// restart: close() writes state checkpoints and the next start takes them back (state-checkpoint.ts).
// Used by main.ts (under Greengrass) and by tests (two hosts in one process). Invariant: a host that
// failed to start has released every socket it opened.
import { createLogger, type Logger } from '../common/logger.ts';
import { ControlChannelServer } from './control-channel.ts';
import { FunctionHostControlHandlers, parseControlRequest } from './control-handlers.ts';
import { DirectCutoverClaims } from './direct-cutover.ts';
import type { FunctionHostConfig, ServiceConfig } from './function-host-config.ts';
import { loadFunction, type FunctionModule } from './function-loader.ts';
import { RequestServer, type HostedServiceOptions, type RouteEntry } from './request-server.ts';
import { readCheckpoint, writeCheckpoint, type RestoredState } from './state-checkpoint.ts';
import { warmUpStateTransfer } from './transfer-warm-up.ts';
import { EdgeShiftError } from '../common/errors.ts';

export interface FunctionHostOptions {
  /** Modules reachable as `builtin:<name>` (the sample application). */
  readonly builtins?: Readonly<Record<string, FunctionModule>>;
  readonly logger?: Logger;
  /** Called when setRoute changed the route table (persist it). */
  readonly onRoutesChanged?: (routes: Readonly<Record<string, RouteEntry>>) => void | Promise<void>;
}

export interface FunctionHost {
  readonly server: RequestServer;
  readonly control: FunctionHostControlHandlers;
  /** The CLAIM sockets of direct cutovers, opened when an import with one begins. */
  readonly directCutoverClaims: DirectCutoverClaims;
  /** Applies routes from a configuration update (option-1 reconfiguration); stale ones are skipped. */
  applyRoutes(routes: FunctionHostConfig['routes']): Promise<void>;
  /** True while the node's peer agent holds the control channel (it opens it at start). */
  isAgentAttached(): boolean;
  close(): Promise<void>;
}

interface HostedServices {
  readonly services: HostedServiceOptions[];
  /** The checkpoints the services were started from: removed once they serve. */
  readonly restored: RestoredState[];
}

async function hostedServices(
  config: FunctionHostConfig,
  builtins: Readonly<Record<string, FunctionModule>>,
  logger: Logger,
): Promise<HostedServices> {
  const services: HostedServiceOptions[] = [];
  const restored: RestoredState[] = [];
  for (const service of config.services) {
    const definition = await loadFunction(service.module, service.options, builtins);
    if (definition.name !== service.name) {
      throw new EdgeShiftError(
        'ERR_FNHOST_FUNCTION_LOAD',
        `service ${service.name} loads ${service.module}, whose function is named ${definition.name}`,
        { context: { service: service.name } },
      );
    }
    const checkpoint = definition.isStateful ? await takeBackCheckpoint(config, service, logger) : undefined;
    if (checkpoint !== undefined) restored.push(checkpoint);
    services.push({
      definition,
      serviceId: service.serviceId,
      listen: { address: service.listenAddress, port: service.port },
      role: checkpoint === undefined ? service.initialRole : 'owner',
      epoch: checkpoint?.epoch ?? service.initialEpoch,
      ...(checkpoint === undefined ? {} : { store: checkpoint.store }),
    });
  }
  return { services, restored };
}

/** The state a clean stop left for `service`; a bad checkpoint is logged and the service starts as configured. */
async function takeBackCheckpoint(
  config: FunctionHostConfig,
  service: ServiceConfig,
  logger: Logger,
): Promise<RestoredState | undefined> {
  if (config.stateCheckpointDir === '') return undefined;
  try {
    const checkpoint = await readCheckpoint(config.stateCheckpointDir, service.name, service.initialEpoch);
    if (checkpoint !== undefined) {
      logger.info('state taken back from its checkpoint: serving as owner', {
        service: service.name,
        epoch: checkpoint.epoch,
        keys: checkpoint.store.keyCount('app'),
      });
    }
    return checkpoint;
  } catch (err) {
    logger.error('state checkpoint refused: the service starts in its configured role', {
      service: service.name,
      err,
    });
    return undefined;
  }
}

/**
 * On a clean stop, each stateful service this node owns stops taking requests, lets those running
 * finish, and leaves its state in a checkpoint. A service past its freeze in a move (frozen, or no
 * longer the owner) leaves none: the move decides where its state lives. One still sending its
 * snapshot is checkpointed, which ends its export: the move then aborts, and the data plane still
 * names this node, which comes back with that state.
 */
async function checkpointOwnedState(server: RequestServer, dir: string, logger: Logger): Promise<void> {
  const owned = server.runtimes().filter((runtime) => runtime.isStateful && runtime.role === 'owner');
  await Promise.all(
    owned.map(async (runtime) => {
      try {
        await runtime.freeze();
        const file = await writeCheckpoint(dir, runtime.name, runtime.epoch, runtime.store);
        logger.info('state checkpoint written', { service: runtime.name, epoch: runtime.epoch, file });
      } catch (err) {
        logger.error('state checkpoint failed: the state is lost with this stop', {
          service: runtime.name,
          err,
        });
      }
    }),
  );
}

function routeEntries(routes: FunctionHostConfig['routes']): Record<string, RouteEntry> {
  return Object.fromEntries(
    Object.entries(routes).map(([service, route]) => [
      service,
      { owner: { address: route.address, port: route.port }, epoch: route.epoch },
    ]),
  );
}

export async function startFunctionHost(
  config: FunctionHostConfig,
  options: FunctionHostOptions = {},
): Promise<FunctionHost> {
  const logger = options.logger ?? createLogger('function-host');
  const nodeName = config.nodeName === '' ? (process.env.AWS_IOT_THING_NAME ?? 'node') : config.nodeName;
  warmUpStateTransfer();
  const { services, restored } = await hostedServices(config, options.builtins ?? {}, logger);
  const server = await RequestServer.start({
    nodeName,
    services,
    ...(config.advertiseAddress === '' ? {} : { advertiseAddress: config.advertiseAddress }),
    serviceAddresses: config.serviceAddresses,
    routes: routeEntries(config.routes),
    maxBufferedRequests: config.maxBufferedRequests,
    dedupeEntriesPerKey: config.dedupeEntriesPerKey,
    handOverHoldMs: config.handOverHoldMs,
    callTimeoutMs: config.callTimeoutMs,
    callAttempts: config.callAttempts,
    onHandOff: (handOff) => control.acceptHandOff(handOff),
    onMirror: (mirror, from) => control.acceptMirror(mirror, from),
    onFence: (fence, from) => control.acceptFence(fence, from),
    logger,
  });
  // The channel serves the handlers and the handlers hand out the channel: each refers to the other lazily.
  const channel: ControlChannelServer = await ControlChannelServer.start({
    handle: (request) => control.handle(request),
    parse: parseControlRequest,
    logger: logger.child('control-channel'),
  }).catch(async (err: unknown) => {
    await server.close();
    throw err;
  });
  // Served from now on: a crash from here must not bring this state back over what gets served.
  await Promise.all(restored.map((checkpoint) => checkpoint.discard()));
  const directCutoverClaims = new DirectCutoverClaims(logger.child('direct-cutover'));
  const control: FunctionHostControlHandlers = new FunctionHostControlHandlers(server, {
    maxChunkBytes: config.maxChunkBytes,
    directCutoverClaims,
    logger: logger.child('control'),
    controlChannel: () => channel.info,
    ...(options.onRoutesChanged ? { onRoutesChanged: options.onRoutesChanged } : {}),
  });
  return {
    server,
    control,
    directCutoverClaims,
    applyRoutes: async (routes) => {
      for (const [service, route] of Object.entries(routeEntries(routes))) {
        const held = server.routes()[service];
        if (held !== undefined && held.epoch > route.epoch) continue;
        await server.setRoute(service, route.owner, route.epoch);
      }
    },
    isAgentAttached: () => channel.isAttached,
    close: async () => {
      if (config.stateCheckpointDir !== '') {
        await checkpointOwnedState(server, config.stateCheckpointDir, logger);
      }
      await channel.close();
      await directCutoverClaims.close();
      await server.close();
    },
  };
}
