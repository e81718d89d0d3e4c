// A clock for tests: time moves only when advance() is called, and timers due by then fire in order.
import type { Clock, TimerHandle } from '../../../components/common/clock.ts';

interface PendingTimer {
  readonly handle: TimerHandle;
  readonly dueMs: number;
  readonly callback: () => void;
}

export class ManualClock implements Clock {
  private currentMs: number;
  private timers: PendingTimer[] = [];
  private nextId = 0;

  constructor(startMs = 1_000_000) {
    this.currentMs = startMs;
  }

  nowMs(): number {
    return this.currentMs;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const handle = { id: (this.nextId += 1) };
    this.timers.push({ handle, dueMs: this.currentMs + delayMs, callback });
    return handle;
  }

  clearTimer(handle: TimerHandle): void {
    this.timers = this.timers.filter((timer) => timer.handle !== handle);
  }

  /** Timers still pending (lets a test wait until a step has armed its timeout). */
  get pendingTimers(): number {
    return this.timers.length;
  }

  advance(deltaMs: number): void {
    const targetMs = this.currentMs + deltaMs;
    for (;;) {
      const due = this.timers.filter((timer) => timer.dueMs <= targetMs).sort((a, b) => a.dueMs - b.dueMs)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((timer) => timer !== due);
      this.currentMs = Math.max(this.currentMs, due.dueMs);
      due.callback();
    }
    this.currentMs = targetMs;
  }
}
