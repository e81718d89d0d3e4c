// Before the function host stops, it asks its node's peer agent to move every service it owns to a
// peer (the agent's drain operation), so a planned restart (a deployment, `greengrass-cli component
// restart`) leaves no gap: the peer serves while this host is down, and a later move can bring the
// services back. Called by function-host-component.ts in close() while the control topic is still
// served (the moves run through it); what the agent does not move is left to the state checkpoints
// that function-host.ts writes next.
import { parseDrainReport, type DrainReport } from '../common/agent-control-contract.ts';
import type { Logger } from '../common/logger.ts';
import type { FunctionHost } from './function-host.ts';

export interface DrainBeforeStopOptions {
  readonly host: FunctionHost;
  /** Sends a request to this node's peer agent and resolves with its answer. */
  readonly askAgent: (body: unknown, timeoutMs: number) => Promise<unknown>;
  /** How long the moves may take; 0 turns the drain off. */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

/** Resolves with what the agent moved, or undefined when no drain ran; never rejects. */
export async function drainBeforeStop(options: DrainBeforeStopOptions): Promise<DrainReport | undefined> {
  const { host, timeoutMs, logger } = options;
  host.control.refuseImports();
  const owned = host.server
    .runtimes()
    .filter((runtime) => runtime.role === 'owner')
    .map((runtime) => runtime.name);
  if (timeoutMs === 0 || owned.length === 0) return undefined;
  // When the whole node stops, the agent (a dependent) stops first and lets go of the channel: asking
  // it then would only wait out the timeout.
  if (!host.isAgentAttached()) {
    logger.warn('no peer agent attached: the services this node owns stop with it', { owned });
    return undefined;
  }
  logger.info('moving the services this node owns to a peer before stopping', { owned, timeoutMs });
  try {
    const report = parseDrainReport(await options.askAgent({ op: 'drain' }, timeoutMs));
    if (report.kept.length > 0) logger.warn('some services stay and stop with this node', { ...report });
    else logger.info('every owned service moved to a peer', { moved: report.moved });
    return report;
  } catch (err) {
    logger.warn('the drain before stopping failed: what is still owned stops with this node', { owned, err });
    return undefined;
  }
}
