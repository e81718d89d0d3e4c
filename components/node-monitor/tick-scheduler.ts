// A periodic tick on absolute times: tick n is due at anchor + n × period, so timer lateness does not
// accumulate (drift correction). Ticks missed while the event loop was busy are skipped, not burst,
// and a tick that arrives while the previous tick's work is still running is skipped: work never
// overlaps. Both are counted. Clock and timer are injected so tests drive it with fake time.
import type { MonotonicClock } from './load-sample.ts';

export type TimerHandle = unknown;

export interface Timer {
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemTimer: Timer = {
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface TickCounters {
  /** Ticks whose work ran. */
  readonly ticks: number;
  /** Ticks skipped because the timer fired more than a period late. */
  readonly missedTicks: number;
  /** Ticks skipped because the previous tick's work had not finished. */
  readonly overlappedTicks: number;
}

export interface TickSchedulerOptions {
  readonly periodMs: number;
  readonly clock: MonotonicClock;
  readonly timer: Timer;
  /** The work of one tick; its rejection goes to onError, the schedule goes on. */
  readonly onTick: () => Promise<void>;
  readonly onError: (err: unknown) => void;
}

export class TickScheduler {
  private periodMs: number;
  private anchorMs = 0;
  private nextTickIndex = 0;
  private handle: TimerHandle = undefined;
  private isRunning = false;
  private isTickBusy = false;
  private counters = { ticks: 0, missedTicks: 0, overlappedTicks: 0 };

  constructor(private readonly options: TickSchedulerOptions) {
    this.periodMs = options.periodMs;
  }

  get stats(): TickCounters {
    return { ...this.counters };
  }

  /** First tick one period from now. */
  start(): void {
    if (this.isRunning) return;
    this.isRunning = true;
    this.anchor();
  }

  /** Applies a new period from now on: the next tick is one new period from now. */
  setPeriodMs(periodMs: number): void {
    this.periodMs = periodMs;
    if (!this.isRunning) return;
    this.options.timer.clearTimeout(this.handle);
    this.anchor();
  }

  stop(): void {
    this.isRunning = false;
    this.options.timer.clearTimeout(this.handle);
    this.handle = undefined;
  }

  private anchor(): void {
    this.anchorMs = this.options.clock.nowMs();
    this.nextTickIndex = 1;
    this.scheduleNext();
  }

  private scheduleNext(): void {
    const dueMs = this.anchorMs + this.nextTickIndex * this.periodMs;
    const delayMs = Math.max(0, dueMs - this.options.clock.nowMs());
    this.handle = this.options.timer.setTimeout(() => this.fire(), delayMs);
  }

  private fire(): void {
    if (!this.isRunning) return;
    const dueMs = this.anchorMs + this.nextTickIndex * this.periodMs;
    const lateTicks = Math.max(0, Math.floor((this.options.clock.nowMs() - dueMs) / this.periodMs));
    this.counters.missedTicks += lateTicks;
    this.nextTickIndex += lateTicks + 1;
    this.scheduleNext();
    if (this.isTickBusy) {
      this.counters.overlappedTicks += 1;
      return;
    }
    this.runTick();
  }

  private runTick(): void {
    this.isTickBusy = true;
    this.counters.ticks += 1;
    this.options
      .onTick()
      .catch((err: unknown) => this.options.onError(err))
      .finally(() => {
        this.isTickBusy = false;
      });
  }
}
