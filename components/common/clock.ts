// Time as a component sees it: the current time and one-shot timers, injected everywhere a step has a
// timeout so tests drive time by hand (test/agent/support/manual-clock.ts) instead of sleeping.
// withTimeout never leaves a timer behind: it is cleared as soon as the work settles.
import { EdgeShiftError, type ErrorContext } from './errors.ts';

export type TimerHandle = { readonly id: unknown };

export interface Clock {
  nowMs(): number;
  setTimer(callback: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  nowMs: () => performance.timeOrigin + performance.now(),
  setTimer: (callback, delayMs) => ({ id: setTimeout(callback, delayMs) }),
  clearTimer: (handle) => clearTimeout(handle.id as ReturnType<typeof setTimeout>),
};

/** Settles like `work`, or rejects with ERR_MIGRATION_TIMEOUT after `timeoutMs`, calling `onTimeout` first. */
export function withTimeout<T>(
  clock: Clock,
  work: Promise<T>,
  timeoutMs: number,
  step: string,
  options: { context?: ErrorContext; onTimeout?: () => void } = {},
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimer(() => {
      options.onTimeout?.();
      reject(
        new EdgeShiftError('ERR_MIGRATION_TIMEOUT', `step '${step}' did not finish within ${timeoutMs} ms`, {
          context: { step, timeoutMs, ...options.context },
        }),
      );
    }, timeoutMs);
    work.then(
      (value) => {
        clock.clearTimer(timer);
        resolve(value);
      },
      (err: unknown) => {
        clock.clearTimer(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
