// com.edgeshift.NodeMonitor as a Greengrass component: the shared component runtime connects IPC,
// validates the configuration against the recipe's schema, reports RUNNING, applies updates without
// restart and closes on SIGTERM; this module wires the NodeMonitor to IPC (local metrics topic, the
// function host's in-flight topic). main.ts calls it; tests call it with a local nucleus's socket.
import schema from '../../recipes/schemas/com.edgeshift.NodeMonitor.schema.json' with { type: 'json' };
import {
  runComponent,
  type ComponentRuntime,
  type ComponentRuntimeOptions,
} from '../common/component-runtime.ts';
import { functionHostInflightTopic } from '../function-host/function-host-api.ts';
import { InflightTopicFollower } from './inflight-topic.ts';
import { systemClock } from './load-sample.ts';
import { NodeMonitor } from './node-monitor.ts';
import {
  NODE_MONITOR_COMPONENT,
  NODE_MONITOR_CONFIG_RULES,
  type NodeMonitorConfig,
} from './node-monitor-config.ts';

/** An in-flight count not refreshed for this long is ignored (its publisher stopped). */
const INFLIGHT_MAX_AGE_MS = 5000;

/** Runtime options a test or another launcher may set (IPC socket and token, signals, exit). */
export type NodeMonitorComponentOptions = Pick<
  ComponentRuntimeOptions<NodeMonitorConfig>,
  'ipc' | 'handleSignals' | 'exit' | 'logger'
>;

export function runNodeMonitorComponent(
  options: NodeMonitorComponentOptions = {},
): Promise<ComponentRuntime<NodeMonitorConfig>> {
  return runComponent<NodeMonitorConfig>({
    ...options,
    componentName: NODE_MONITOR_COMPONENT,
    schema,
    rules: NODE_MONITOR_CONFIG_RULES,
    start: async ({ ipc, config, logger }) => {
      const inflight = new InflightTopicFollower(
        (topic, handler) => ipc.subscribe(topic, handler),
        systemClock,
        INFLIGHT_MAX_AGE_MS,
      );
      const monitor = new NodeMonitor(config, {
        publishLocal: (topic, value) => ipc.publishJson(topic, value),
        inflightRequestsProvider: () => inflight.current(),
        isDrainingProvider: () => inflight.isDraining(),
        logger: logger.child('monitor'),
      });
      // Without the in-flight topic (not allowed, or no function host) the configured count is announced.
      const followInflight = (next: NodeMonitorConfig): Promise<void> =>
        inflight
          .follow(next.inflightTopic ?? functionHostInflightTopic(monitor.thingName))
          .catch((err: unknown) => logger.warn('not following the in-flight topic', { err }));
      await followInflight(config);
      await monitor.start();
      return {
        applyConfiguration: async (next) => {
          await monitor.reconfigure(next);
          await followInflight(next);
        },
        close: async () => {
          await monitor.close();
          await inflight.close();
        },
      };
    },
  });
}
