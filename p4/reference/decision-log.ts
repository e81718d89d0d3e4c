// Logs what the reference data plane decides, as JSON lines: every ADVICE sent, every CLAIM decision,
// drops at debug level, and once per interval a summary of per-node loads and liveness (the demo
// prints these). Subscribes to the pipeline's events; the summary timer is unref'd.
// Invariant: logging never changes a decision (the pipeline isolates observers' failures).
import type { Logger } from '../../components/common/logger.ts';
import { describeNodes } from './data-plane-state.ts';
import type { PipelineEvent, ReferencePipeline } from './pipeline.ts';
import { DropReason } from './program.ts';
import type { DataPlaneLabels } from './switch-commands.ts';

const DROP_REASON_NAMES = new Map<number, string>(
  Object.entries(DropReason).map(([name, code]) => [code, name]),
);

/**
 * A refused CLAIM from the owner in force at its own epoch is a repeat (the new owner's agent confirms
 * what its function host claimed, or a resend crossed the first answer), not a stale claimant.
 */
function claimMessage(event: Extract<PipelineEvent, { kind: 'claim' }>): string {
  if (event.isAccepted) return 'CLAIM accepted';
  const isRepeat = event.ownerNodeId === event.nodeId && event.epochInForce === event.epoch;
  return isRepeat ? 'CLAIM repeated by the owner' : 'CLAIM stale';
}

export interface DecisionLogOptions {
  readonly logger: Logger;
  readonly labels: DataPlaneLabels;
  readonly nowUs: () => bigint;
  readonly summaryIntervalMs?: number;
}

export class DecisionLog {
  private readonly pipeline: ReferencePipeline;
  private readonly options: DecisionLogOptions;
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reportsSinceSummary = 0;

  constructor(pipeline: ReferencePipeline, options: DecisionLogOptions) {
    this.pipeline = pipeline;
    this.options = options;
  }

  start(): void {
    if (this.unsubscribe !== undefined) return;
    this.unsubscribe = this.pipeline.subscribe((event) => this.onEvent(event));
    this.timer = setInterval(() => this.logSummary(), this.options.summaryIntervalMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Logs the per-node summary now if any report arrived since the last one. */
  logSummary(): void {
    if (this.reportsSinceSummary === 0) return;
    const reports = this.reportsSinceSummary;
    this.reportsSinceSummary = 0;
    const nodes = describeNodes(this.pipeline, this.options.labels, this.options.nowUs()).map((node) => ({
      nodeId: node.nodeId,
      name: node.name,
      cpuLoadBp: node.cpuLoadBp,
      memLoadBp: node.memLoadBp,
      inflightRequests: node.inflightRequests,
      isLive: node.isLive,
      overloadStreak: node.overloadStreak,
    }));
    this.options.logger.info('node loads', { reports, nodes });
  }

  private onEvent(event: PipelineEvent): void {
    const { logger, labels } = this.options;
    switch (event.kind) {
      case 'metrics':
        this.reportsSinceSummary += 1;
        return;
      case 'advice':
        logger.info('ADVICE sent', {
          ...event,
          node: labels.nodes.get(event.nodeId),
          service: labels.services.get(event.serviceId),
          target: labels.nodes.get(event.targetNodeId),
        });
        return;
      case 'claim':
        logger.info(claimMessage(event), {
          ...event,
          node: labels.nodes.get(event.nodeId),
          service: labels.services.get(event.serviceId),
          owner: labels.nodes.get(event.ownerNodeId),
        });
        return;
      case 'drop':
        logger.debug('packet dropped', { ...event, reasonName: DROP_REASON_NAMES.get(event.reason) });
        return;
    }
  }
}
