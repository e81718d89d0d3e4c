// Follows the local topic on which the function host publishes its in-flight request count
// ({"inflightRequests": n} on edgeshift/function-host/<thingName>/inflight, with "draining": true while
// it prepares to stop), so the monitor can announce both in METRICS packets. Used by
// node-monitor-component.ts; messages are validated here, at the boundary. Invariant: a message older
// than maxAgeMs is not used (a stopped publisher must not pin the node's load or keep it draining),
// and the caller then falls back to its config.
import type { LocalMessage } from '../common/ipc/index.ts';
import type { MonotonicClock } from './load-sample.ts';

export type SubscribeToTopic = (
  topic: string,
  handler: (message: LocalMessage) => void,
) => Promise<{ close(): Promise<void> }>;

export interface InflightReport {
  readonly inflightRequests: number;
  /** The function host is about to stop: the node should take no new work. */
  readonly isDraining: boolean;
}

/** A message as a report, or undefined unless it is an InflightMessage (function-host-api.ts). */
export function parseInflightMessage(message: LocalMessage): InflightReport | undefined {
  if (message.kind !== 'json' || typeof message.value !== 'object' || message.value === null)
    return undefined;
  const { inflightRequests, draining } = message.value as { inflightRequests?: unknown; draining?: unknown };
  if (typeof inflightRequests !== 'number' || !Number.isInteger(inflightRequests) || inflightRequests < 0)
    return undefined;
  if (draining !== undefined && typeof draining !== 'boolean') return undefined;
  return { inflightRequests, isDraining: draining === true };
}

export class InflightTopicFollower {
  private topic: string | undefined;
  private subscription: { close(): Promise<void> } | undefined;
  private latest: { report: InflightReport; atMs: number } | undefined;

  constructor(
    private readonly subscribe: SubscribeToTopic,
    private readonly clock: MonotonicClock,
    private readonly maxAgeMs: number,
  ) {}

  /** The last count received within maxAgeMs, else undefined. */
  current(): number | undefined {
    return this.fresh()?.inflightRequests;
  }

  /** True while the last message received within maxAgeMs says the function host is draining. */
  isDraining(): boolean {
    return this.fresh()?.isDraining === true;
  }

  private fresh(): InflightReport | undefined {
    if (this.latest === undefined || this.clock.nowMs() - this.latest.atMs > this.maxAgeMs) return undefined;
    return this.latest.report;
  }

  /** Follows `topic` (undefined: none), dropping the previous subscription when it changes. */
  async follow(topic: string | undefined): Promise<void> {
    if (topic === this.topic) return;
    await this.close();
    this.topic = topic;
    if (topic === undefined) return;
    this.subscription = await this.subscribe(topic, (message) => {
      const report = parseInflightMessage(message);
      if (report !== undefined) this.latest = { report, atMs: this.clock.nowMs() };
    });
  }

  async close(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = undefined;
    this.topic = undefined;
    this.latest = undefined;
    await subscription?.close();
  }
}
