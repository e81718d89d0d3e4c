// Before the function host stops, it takes the node out of service without a gap, so a planned restart
// (a deployment, `greengrass-cli component restart`) goes unnoticed: it announces that it is draining
// (the node monitor then reports full load, and the data plane sends the stateless services it
// balances to the other node of each pair), asks its node's peer agent to move every service the node
// owns to a peer (the agent's drain operation), and waits until no stateless request arrives or runs.
// Called by function-host-component.ts in close() while the control topic is still served (the moves
// run through it); what stays is left to the state checkpoints that function-host.ts writes next.
import { setTimeout as delay } from 'node:timers/promises';

import { parseDrainReport } from '../common/agent-control-contract.ts';
import type { Logger } from '../common/logger.ts';
import type { FunctionHost } from './function-host.ts';

export interface DrainBeforeStopOptions {
  readonly host: FunctionHost;
  /** Tells the node monitor that this host is draining (the in-flight topic's `draining` flag). */
  readonly announceDraining: () => Promise<void>;
  /** Sends a request to this node's peer agent and resolves with its answer. */
  readonly askAgent: (body: unknown, timeoutMs: number) => Promise<unknown>;
  /** How long the whole drain may take; 0 turns it off. */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

/**
 * Three reports of the node monitor (100 ms apart): by then the data plane has its full load, so
 * this long without a stateless arrival means the balanced traffic has gone to the other node.
 */
const QUIET_MS = 300;
const POLL_MS = 20;

/** Never rejects: what goes wrong is logged, and the stop goes on. */
export async function drainBeforeStop(options: DrainBeforeStopOptions): Promise<void> {
  const { host, timeoutMs, logger } = options;
  host.control.refuseImports();
  if (timeoutMs === 0) return;
  const deadlineMs = performance.now() + timeoutMs;
  await options
    .announceDraining()
    .catch((err: unknown) => logger.warn('could not announce the drain to the node monitor', { err }));
  await moveOwnedServices(options, deadlineMs);
  await untilStatelessQuiet(host, deadlineMs, logger);
}

async function moveOwnedServices(options: DrainBeforeStopOptions, deadlineMs: number): Promise<void> {
  const { host, logger } = options;
  const owned = host.server
    .runtimes()
    .filter((runtime) => runtime.role === 'owner')
    .map((runtime) => runtime.name);
  if (owned.length === 0) return;
  // The agent holds the channel while it runs (the host stops first, even with the whole node, by
  // its recipe's dependencies); without it, asking would only wait out the timeout.
  if (!host.isAgentAttached()) {
    logger.warn('no peer agent attached: the services this node owns stop with it', { owned });
    return;
  }
  const timeoutMs = Math.max(1, Math.round(deadlineMs - performance.now()));
  logger.info('moving the services this node owns to a peer before stopping', { owned, timeoutMs });
  try {
    const report = parseDrainReport(await options.askAgent({ op: 'drain' }, timeoutMs));
    if (report.kept.length > 0) logger.warn('some services stay and stop with this node', { ...report });
    else logger.info('every owned service moved to a peer', { moved: report.moved });
  } catch (err) {
    logger.warn('the drain before stopping failed: what is still owned stops with this node', { owned, err });
  }
}

/**
 * Waits until no request for a stateless service has arrived for QUIET_MS and none runs, or until the
 * deadline. Stateful services are not waited for: what this node still owns keeps its traffic until
 * the stop, and its checkpoint takes the requests that finish.
 */
async function untilStatelessQuiet(host: FunctionHost, deadlineMs: number, logger: Logger): Promise<void> {
  const stateless = host.server.runtimes().filter((runtime) => !runtime.isStateful);
  const arrivals = (): number => stateless.reduce((sum, runtime) => sum + runtime.arrivals, 0);
  const running = (): number => stateless.reduce((sum, runtime) => sum + runtime.inflightRequests, 0);
  let seen = arrivals();
  let quietSinceMs = performance.now();
  while (performance.now() - quietSinceMs < QUIET_MS || running() > 0) {
    if (performance.now() >= deadlineMs) {
      logger.warn('stateless requests still arrive: they stop with this node', { running: running() });
      return;
    }
    await delay(POLL_MS);
    if (arrivals() === seen) continue;
    seen = arrivals();
    quietSinceMs = performance.now();
  }
}
