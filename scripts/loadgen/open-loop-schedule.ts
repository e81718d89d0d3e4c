// The open-loop send schedule of the load generator: request i is due at start + i / rate, whatever
// happened to earlier requests, so a stalled server or a stalled generator shows up as latency, never
// as fewer requests. Pure arithmetic on an injected clock reading; load-generator.ts drives it.
// Invariant: the number of requests due never decreases and never exceeds the total.

export interface OpenLoopSchedule {
  readonly startMs: number;
  readonly rateHz: number;
  readonly totalRequests: number;
}

export function createSchedule(startMs: number, rateHz: number, durationMs: number): OpenLoopSchedule {
  return { startMs, rateHz, totalRequests: Math.max(0, Math.round((rateHz * durationMs) / 1000)) };
}

/** The time request `index` (0-based) is scheduled to leave, on the generator's clock. */
export function scheduledSendTimeMs(schedule: OpenLoopSchedule, index: number): number {
  return schedule.startMs + (index * 1000) / schedule.rateHz;
}

/** How many requests are due by `nowMs` (request i is due once its scheduled time has come). */
export function dueRequestCount(schedule: OpenLoopSchedule, nowMs: number): number {
  if (nowMs < schedule.startMs) return 0;
  const due = Math.floor(((nowMs - schedule.startMs) * schedule.rateHz) / 1000) + 1;
  return Math.min(due, schedule.totalRequests);
}
