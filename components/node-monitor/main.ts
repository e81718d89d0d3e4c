// Entry point of com.edgeshift.NodeMonitor under Greengrass (or the local node): the shared component
// runtime connects IPC, validates the configuration against the recipe's schema, reports RUNNING,
// applies updates without restart and closes on SIGTERM; this file only wires the NodeMonitor to IPC
// (local metrics topic, optional in-flight topic). Without Greengrass use scripts/run-monitor.ts.
import schema from '../../recipes/schemas/com.edgeshift.NodeMonitor.schema.json' with { type: 'json' };
import { runComponent } from '../common/component-runtime.ts';
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

await runComponent<NodeMonitorConfig>({
  componentName: NODE_MONITOR_COMPONENT,
  schema,
  rules: NODE_MONITOR_CONFIG_RULES,
  start: async ({ ipc, config, logger }) => {
    const inflight = new InflightTopicFollower(
      (topic, handler) => ipc.subscribe(topic, handler),
      systemClock,
      INFLIGHT_MAX_AGE_MS,
    );
    await inflight.follow(config.inflightTopic);
    const monitor = new NodeMonitor(config, {
      publishLocal: (topic, value) => ipc.publishJson(topic, value),
      inflightRequestsProvider: () => inflight.current(),
      logger: logger.child('monitor'),
    });
    await monitor.start();
    return {
      applyConfiguration: async (next) => {
        await monitor.reconfigure(next);
        await inflight.follow(next.inflightTopic);
      },
      close: async () => {
        await monitor.close();
        await inflight.close();
      },
    };
  },
});
