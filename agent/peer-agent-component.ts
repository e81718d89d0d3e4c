// The peer agent as a Greengrass component: builds the agent from the validated configuration
// (agent-config.ts), reaches the function host over IPC and its control channel
// (function-host-client.ts, function-host-channel.ts) and follows it across restarts, serves the
// local control topic (control-service.ts) and the same commands from the cloud over IoT Core
// (cloud-commands.ts), feeds the node monitor's load reports to the placement policy, and receives
// CLAIM answers and forwarded ADVICE on its data-plane socket. main.ts runs it with
// components/common/component-runtime.ts; tests can run it the same way against the local nucleus.
import type { ComponentRuntimeOptions } from '../components/common/component-runtime.ts';
import type { IpcClient, IpcSubscription } from '../components/common/ipc/index.ts';
import type { Logger } from '../components/common/logger.ts';
import { systemClock } from '../components/common/clock.ts';
import { sessionStreamPriority } from './cpu-priority.ts';
import {
  PEER_AGENT_RULES,
  peerAgentSchema,
  PEER_AGENT_COMPONENT,
  resolveAgentConfig,
  type PeerAgentConfig,
} from './agent-config.ts';
import { serveCloudCommands } from './cloud-commands.ts';
import { agentControlTopic } from '../components/common/agent-control-contract.ts';
import { handleControlRequest, parseControlRequest } from './control-service.ts';
import { DataPlaneLink } from '../components/common/data-plane-link.ts';
import { UdpCutoverNotifier } from './cutover/cutover-notifier.ts';
import { ChannelFunctionHostControl } from './function-host-channel.ts';
import { IpcFunctionHostControl } from './function-host-client.ts';
import { PeerAgent } from './peer-agent.ts';
import { readTlsMaterial } from './peer-tls.ts';

/** Topic of the node monitor's JSON load report (components/node-monitor/metrics-report.ts). */
function metricsTopicOf(thingName: string): string {
  return `edgeshift/metrics/${thingName}`;
}

function loadOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { cpuLoadBp, memLoadBp } = value as { cpuLoadBp?: unknown; memLoadBp?: unknown };
  if (typeof cpuLoadBp !== 'number' || typeof memLoadBp !== 'number') return undefined;
  return Math.max(cpuLoadBp, memLoadBp);
}

async function followLocalLoad(
  ipc: IpcClient,
  thingName: string,
  agent: PeerAgent,
  logger: Logger,
): Promise<IpcSubscription | undefined> {
  try {
    return await ipc.subscribe(metricsTopicOf(thingName), (message) => {
      const loadBp = message.kind === 'json' ? loadOf(message.value) : undefined;
      if (loadBp !== undefined) agent.observeLocalLoad(loadBp);
    });
  } catch (err) {
    logger.warn('no local load reports: ADVICE alone decides', { err });
    return undefined;
  }
}

/** How long the agent tries to open the function host's control channel at start, in short attempts. */
const CONTROL_CHANNEL_ATTEMPT_MS = 500;
const CONTROL_CHANNEL_ATTEMPTS = 60;

export function peerAgentComponentOptions(
  overrides: Partial<ComponentRuntimeOptions<PeerAgentConfig>> = {},
): ComponentRuntimeOptions<PeerAgentConfig> {
  return {
    componentName: PEER_AGENT_COMPONENT,
    schema: peerAgentSchema,
    rules: PEER_AGENT_RULES,
    start: async ({ ipc, config, logger, thingName }) => {
      const resolved = resolveAgentConfig(config, { thingName, workDir: process.cwd() });
      const nodeThingName = thingName === '' ? resolved.nodeName : thingName;
      const tls = await readTlsMaterial(resolved.tls);
      const link = await DataPlaneLink.open({
        dataPlane: resolved.dataPlane,
        listen: resolved.dataPlaneListen,
        log: logger.child('data-plane'),
      });
      const notifier = new UdpCutoverNotifier(logger.child('cutover-notice'));
      const host = new ChannelFunctionHostControl(
        new IpcFunctionHostControl(ipc, nodeThingName),
        logger.child('function-host'),
        { onBroken: () => void followFunctionHost() },
      );
      const agent = await PeerAgent.start({
        nodeId: resolved.nodeName,
        nodeNumber: resolved.nodeNumber,
        requestAddress: resolved.requestAddress,
        listenAddress: resolved.grpcListenAddress,
        services: resolved.services,
        peers: resolved.peers,
        host,
        tls,
        dataPlaneLink: link,
        notifier,
        clock: systemClock,
        log: logger,
        settings: resolved.settings,
        placement: resolved.placement,
        streamPriority: sessionStreamPriority(resolved.streamNice, logger),
      });
      /**
       * At start, and whenever the channel breaks (the function host restarted): opens the channel
       * ahead of the next move, then lets a host that came back owning another node's service stand down.
       */
      async function followFunctionHost(): Promise<void> {
        if (!(await host.openAhead(CONTROL_CHANNEL_ATTEMPT_MS, CONTROL_CHANNEL_ATTEMPTS))) {
          logger.info('control channel not open yet; the next move will open it');
          return;
        }
        const stoodDown = await agent.reconcileOwnership().catch((err: unknown) => {
          logger.warn('could not check what the function host owns', { err });
          return [];
        });
        if (stoodDown.length > 0) {
          logger.warn('the function host came back owning services other nodes own; they stood down', {
            services: stoodDown,
          });
        }
      }
      void followFunctionHost();
      const control = await ipc.serve(agentControlTopic(nodeThingName), (body) =>
        handleControlRequest(agent, parseControlRequest(body)),
      );
      const metrics = await followLocalLoad(ipc, nodeThingName, agent, logger);
      const cloud = await serveCloudCommands({
        ipc,
        thingName: nodeThingName,
        handle: (request) => handleControlRequest(agent, request),
        logger: logger.child('cloud-commands'),
      }).catch((err: unknown) => {
        logger.warn('no cloud commands: IoT Core is not reachable through the nucleus', { err });
        return undefined;
      });
      logger.info('peer agent running', {
        nodeName: resolved.nodeName,
        grpcPort: agent.port,
        dataPlanePort: link.localPort,
        controlTopic: `${agentControlTopic(nodeThingName)}/request`,
      });
      return {
        applyConfiguration: () => {
          logger.warn('PeerAgent configuration changed; it applies at the next restart');
        },
        close: async () => {
          await control.close();
          await metrics?.close();
          await cloud?.close();
          await agent.close();
          host.close();
          await link.close();
          await notifier.close();
        },
      };
    },
    ...overrides,
  };
}
