// CPU time and run-queue wait of process groups, read from /proc: what the components of a test bed
// spent, and how long they waited for a core, for the benchmarks (scripts/bench/migration.bench.ts) to
// tell what a move costs from the noise it makes. Each component runs in a process group of its own
// (scripts/local-nucleus/component-runner.ts).
import { readdirSync, readFileSync } from 'node:fs';

/** Nanoseconds on a core and waiting on a run queue, summed over threads: /proc/.../schedstat. */
export interface SchedTimes {
  readonly cpuMs: number;
  /** Time the threads were ready to run but waited for a core: what contention adds to latency. */
  readonly waitMs: number;
}

const NS_PER_MS = 1e6;
export const NO_TIME: SchedTimes = { cpuMs: 0, waitMs: 0 };

/** Process group of one process; undefined once it has gone. */
function processGroupOf(pid: string): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: count the fields after it.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

function add(a: SchedTimes, b: SchedTimes): SchedTimes {
  return { cpuMs: a.cpuMs + b.cpuMs, waitMs: a.waitMs + b.waitMs };
}

/**
 * CPU and run-queue wait of every live thread of a process (`self` for this one). Threads that already
 * exited are not counted: compare readings of the same processes.
 */
export function processSchedTimes(pid: string): SchedTimes {
  let total = NO_TIME;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return total;
  }
  for (const tid of tids) {
    try {
      const [cpuNs, waitNs] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
      total = add(total, { cpuMs: Number(cpuNs) / NS_PER_MS, waitMs: Number(waitNs) / NS_PER_MS });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return total;
}

/** CPU and run-queue wait (ms, nanosecond resolution) each group's live processes have had so far. */
export function processGroupSchedTimes(groups: Iterable<number>): Map<number, SchedTimes> {
  const totals = new Map<number, SchedTimes>();
  for (const group of groups) totals.set(group, NO_TIME);
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const group = processGroupOf(pid);
    const total = group === undefined ? undefined : totals.get(group);
    if (group !== undefined && total !== undefined) totals.set(group, add(total, processSchedTimes(pid)));
  }
  return totals;
}
