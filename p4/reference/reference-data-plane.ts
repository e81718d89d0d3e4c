// Assembles the reference data plane process: a pipeline filled from a topology (the same commands
// BMv2 gets), the UDP relay on the topology's addresses, the decision log and, when a port is given,
// the admin interface. Called by scripts/reference-data-plane.ts and by end-to-end tests.
// Invariant: either everything started or nothing is left bound.
import { createLogger, type Logger } from '../../components/common/logger.ts';
import type { Topology } from '../control-plane/topology.ts';
import { AdminServer } from './admin-server.ts';
import { DecisionLog } from './decision-log.ts';
import { ReferencePipeline } from './pipeline.ts';
import { labelsFromTopology, loadTopologyInto, relayEndpointsFromTopology } from './switch-commands.ts';
import { UdpRelay } from './udp-relay.ts';

export interface ReferenceDataPlaneOptions {
  readonly topology: Topology;
  /** Admin HTTP port on 127.0.0.1; 0 picks a free one; undefined runs no admin interface. */
  readonly adminPort?: number;
  readonly logger?: Logger;
  readonly summaryIntervalMs?: number;
}

export interface ReferenceDataPlane {
  readonly pipeline: ReferencePipeline;
  readonly relay: UdpRelay;
  readonly admin: AdminServer | undefined;
  close(): Promise<void>;
}

export async function startReferenceDataPlane(
  options: ReferenceDataPlaneOptions,
): Promise<ReferenceDataPlane> {
  const logger = options.logger ?? createLogger('reference-data-plane');
  const startNs = process.hrtime.bigint();
  // Microseconds since start, like BMv2's ingress_global_timestamp.
  const nowUs = (): bigint => (process.hrtime.bigint() - startNs) / 1000n;
  const pipeline = new ReferencePipeline();
  loadTopologyInto(pipeline, options.topology);
  const labels = labelsFromTopology(options.topology);
  if (options.topology.routes.length === 0) {
    // Replies get the VIP as source and are then forwarded by ipv4_lpm: with no route they are dropped.
    logger.warn('the topology has no routes: replies to clients will be dropped (drop reason 9, no route)', {
      topology: options.topology.name,
      fix: 'add a route covering the clients, e.g. routes: [{prefix: 127.0.0.0/8, nextHopMac: 02:00:00:00:00:01, switchPort: 3}]',
    });
  }
  const decisionLog = new DecisionLog(pipeline, {
    logger,
    labels,
    nowUs,
    ...(options.summaryIntervalMs === undefined ? {} : { summaryIntervalMs: options.summaryIntervalMs }),
  });
  decisionLog.start();
  const relay = await UdpRelay.start({
    pipeline,
    endpoints: relayEndpointsFromTopology(options.topology),
    logger: logger.child('relay'),
    nowUs,
  }).catch((err: unknown) => {
    decisionLog.stop();
    throw err;
  });
  let admin: AdminServer | undefined;
  if (options.adminPort !== undefined) {
    admin = await AdminServer.start({
      pipeline,
      labels,
      nowUs,
      port: options.adminPort,
      logger: logger.child('admin'),
      stats: () => ({ ...relay.stats() }),
    }).catch(async (err: unknown) => {
      decisionLog.stop();
      await relay.close();
      throw err;
    });
  }
  let closing: Promise<void> | undefined;
  return {
    pipeline,
    relay,
    admin,
    close: () => {
      closing ??= (async () => {
        decisionLog.stop();
        await Promise.all([relay.close(), admin?.close()]);
      })();
      return closing;
    },
  };
}
