// Follows the local topic on which the function host publishes its in-flight request count
// ({"inflightRequests": n} on edgeshift/function-host/<thingName>/inflight), so the monitor can announce it in METRICS packets. Used by main.ts;
// messages are validated here, at the boundary. Invariant: a count older than maxAgeMs is not used
// (a stopped publisher must not pin the node's load), and the caller then falls back to its config.
import type { LocalMessage } from '../common/ipc/index.ts';
import type { MonotonicClock } from './load-sample.ts';

/** Where the function host publishes its count (components/function-host/main.ts). */
export function functionHostInflightTopicOf(thingName: string): string {
  return `edgeshift/function-host/${thingName}/inflight`;
}

export type SubscribeToTopic = (
  topic: string,
  handler: (message: LocalMessage) => void,
) => Promise<{ close(): Promise<void> }>;

/** The count in a message, or undefined when it is not {inflightRequests: non-negative integer}. */
export function parseInflightMessage(message: LocalMessage): number | undefined {
  if (message.kind !== 'json' || typeof message.value !== 'object' || message.value === null)
    return undefined;
  const count = (message.value as { inflightRequests?: unknown }).inflightRequests;
  return typeof count === 'number' && Number.isInteger(count) && count >= 0 ? count : undefined;
}

export class InflightTopicFollower {
  private topic: string | undefined;
  private subscription: { close(): Promise<void> } | undefined;
  private latest: { count: number; atMs: number } | undefined;

  constructor(
    private readonly subscribe: SubscribeToTopic,
    private readonly clock: MonotonicClock,
    private readonly maxAgeMs: number,
  ) {}

  /** The last count received within maxAgeMs, else undefined. */
  current(): number | undefined {
    if (this.latest === undefined || this.clock.nowMs() - this.latest.atMs > this.maxAgeMs) return undefined;
    return this.latest.count;
  }

  /** Follows `topic` (undefined: none), dropping the previous subscription when it changes. */
  async follow(topic: string | undefined): Promise<void> {
    if (topic === this.topic) return;
    await this.close();
    this.topic = topic;
    if (topic === undefined) return;
    this.subscription = await this.subscribe(topic, (message) => {
      const count = parseInflightMessage(message);
      if (count !== undefined) this.latest = { count, atMs: this.clock.nowMs() };
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
