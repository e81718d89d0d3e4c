// The com.edgeshift.FunctionHost Greengrass component around the function host, run by main.ts through
// component-runtime.ts: serves the agent's control operations on functionHostControlTopic(thingName),
// persists the option-1 route table with IPC UpdateConfiguration, applies routes that arrive as
// configuration updates, publishes the in-flight request count for the node monitor, and on stop has
// the agent move what this node owns to a peer first (drain-before-stop.ts).
import { agentControlTopic } from '../common/agent-control-contract.ts';
import type { ComponentRuntimeOptions } from '../common/component-runtime.ts';
import type { IpcClient } from '../common/ipc/index.ts';
import type { Logger } from '../common/logger.ts';
import { SAMPLE_APP_FUNCTIONS } from '../sample-app/index.ts';
import { parseControlRequest } from './control-handlers.ts';
import { drainBeforeStop } from './drain-before-stop.ts';
import {
  functionHostControlTopic,
  functionHostInflightTopic,
  type InflightMessage,
} from './function-host-api.ts';
import {
  FUNCTION_HOST_COMPONENT,
  FUNCTION_HOST_RULES,
  functionHostSchema,
  type FunctionHostConfig,
} from './function-host-config.ts';
import { startFunctionHost } from './function-host.ts';
import type { RouteEntry } from './request-server.ts';

/** How often {"inflightRequests": n} goes to edgeshift/function-host/<thingName>/inflight. */
const INFLIGHT_PUBLISH_PERIOD_MS = 100;

/**
 * The in-flight count for the node monitor, every period and at once when the host starts draining
 * (then with "draining": true, so the monitor announces full load until this host stops).
 */
class InflightPublisher {
  readonly #timer: NodeJS.Timeout;
  #isPublishing = false;
  #isDraining = false;

  constructor(
    private readonly ipc: IpcClient,
    private readonly topic: string,
    private readonly count: () => number,
    private readonly logger: Logger,
  ) {
    // Skip a period rather than queue publishes behind a slow nucleus.
    this.#timer = setInterval(
      () => void (this.#isPublishing ? undefined : this.#publish()),
      INFLIGHT_PUBLISH_PERIOD_MS,
    );
  }

  announceDraining(): Promise<void> {
    this.#isDraining = true;
    return this.#publish();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #publish(): Promise<void> {
    this.#isPublishing = true;
    const message: InflightMessage = {
      inflightRequests: this.count(),
      ...(this.#isDraining ? { draining: true } : {}),
    };
    await this.ipc
      .publishJson(this.topic, message)
      .catch((err: unknown) => this.logger.warn('could not publish the in-flight count', { error: err }))
      .finally(() => (this.#isPublishing = false));
  }
}

function routesAsConfiguration(routes: Readonly<Record<string, RouteEntry>>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(routes).map(([service, route]) => [
      service,
      { address: route.owner.address, port: route.owner.port, epoch: route.epoch },
    ]),
  );
}

function persistRoutes(ipc: IpcClient, logger: Logger) {
  return async (routes: Readonly<Record<string, RouteEntry>>): Promise<void> => {
    // The route is already in force; a failed write only loses it across a restart.
    await ipc
      .updateConfiguration(['routes'], routesAsConfiguration(routes))
      .catch((err: unknown) => logger.error('could not persist the route table', { error: err }));
  };
}

/** What runComponent needs to run the function host; `overrides` (IPC socket, signals, exit) serve tests. */
export function functionHostComponentOptions(
  overrides: Partial<ComponentRuntimeOptions<FunctionHostConfig>> = {},
): ComponentRuntimeOptions<FunctionHostConfig> {
  return {
    componentName: FUNCTION_HOST_COMPONENT,
    schema: functionHostSchema,
    rules: FUNCTION_HOST_RULES,
    start: async ({ ipc, config, logger, thingName }) => {
      const host = await startFunctionHost(config, {
        builtins: SAMPLE_APP_FUNCTIONS,
        logger,
        onRoutesChanged: persistRoutes(ipc, logger),
      });
      const nodeThingName = thingName === '' ? config.nodeName : thingName;
      const topic = functionHostControlTopic(nodeThingName);
      const subscription = await ipc.serve(topic, (body) => host.control.handle(parseControlRequest(body)));
      logger.info('serving control requests', { topic: `${topic}/request` });
      const inflight = new InflightPublisher(
        ipc,
        functionHostInflightTopic(nodeThingName),
        () => host.server.runtimes().reduce((sum, runtime) => sum + runtime.inflightRequests, 0),
        logger,
      );
      return {
        applyConfiguration: async (next, previous) => {
          await host.applyRoutes(next.routes);
          const { routes: _nextRoutes, ...nextRest } = next;
          const { routes: _previousRoutes, ...previousRest } = previous;
          if (JSON.stringify(nextRest) !== JSON.stringify(previousRest)) {
            logger.warn('configuration other than routes changed; it applies at the next restart');
          }
        },
        close: async () => {
          await drainBeforeStop({
            host,
            announceDraining: () => inflight.announceDraining(),
            askAgent: (body, timeoutMs) => ipc.request(agentControlTopic(nodeThingName), body, { timeoutMs }),
            timeoutMs: config.drainTimeoutMs,
            logger: logger.child('drain'),
          });
          inflight.stop();
          await subscription.close();
          await host.close();
        },
      };
    },
    ...overrides,
  };
}
