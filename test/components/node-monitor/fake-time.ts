// A fake monotonic clock and timer for the node monitor's tests: time moves only when a test says so,
// and due timers fire in order at their due time (advance) or all at once, late (jump).
import type { MonotonicClock } from '../../../components/node-monitor/load-sample.ts';
import type { Timer, TimerHandle } from '../../../components/node-monitor/tick-scheduler.ts';

interface PendingTimer {
  readonly id: number;
  readonly dueMs: number;
  readonly callback: () => void;
}

export class FakeTime implements MonotonicClock, Timer {
  private currentMs: number;
  private nextId = 1;
  private pending: PendingTimer[] = [];

  constructor(startMs = 1000) {
    this.currentMs = startMs;
  }

  nowMs(): number {
    return this.currentMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer = { id: this.nextId++, dueMs: this.currentMs + Math.max(0, delayMs), callback };
    this.pending.push(timer);
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.pending = this.pending.filter((timer) => timer.id !== handle);
  }

  /** Due time of the earliest pending timer, or undefined. */
  nextDueMs(): number | undefined {
    return this.pending.reduce<number | undefined>(
      (min, t) => (min === undefined || t.dueMs < min ? t.dueMs : min),
      undefined,
    );
  }

  /** Moves time forward by `ms`, firing each timer at its due time, in order (a punctual event loop). */
  advance(ms: number): void {
    const endMs = this.currentMs + ms;
    for (;;) {
      const due = this.popDue(endMs);
      if (due === undefined) break;
      this.currentMs = due.dueMs;
      due.callback();
    }
    this.currentMs = endMs;
  }

  /** Like advance, but lets promises and I/O callbacks run after each timer (async tick work completes). */
  async advanceSettling(ms: number): Promise<void> {
    const endMs = this.currentMs + ms;
    for (;;) {
      const due = this.popDue(endMs);
      if (due === undefined) break;
      this.currentMs = due.dueMs;
      due.callback();
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.currentMs = endMs;
  }

  /** Moves time forward by `ms` at once, then fires what is due: a blocked event loop catching up. */
  jump(ms: number): void {
    this.currentMs += ms;
    for (;;) {
      const due = this.popDue(this.currentMs);
      if (due === undefined) break;
      due.callback();
    }
  }

  private popDue(limitMs: number): PendingTimer | undefined {
    const sorted = [...this.pending].sort((a, b) => a.dueMs - b.dueMs || a.id - b.id);
    const first = sorted[0];
    if (first === undefined || first.dueMs > limitMs) return undefined;
    this.pending = this.pending.filter((timer) => timer !== first);
    return first;
  }
}
