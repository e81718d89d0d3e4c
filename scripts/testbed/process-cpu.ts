// CPU time of process groups, read from /proc: what the components of a test bed spent, for the
// benchmarks (scripts/bench/migration.bench.ts) to tell what a move costs from the noise it makes.
// Each component runs in a process group of its own (scripts/local-nucleus/component-runner.ts).
import { readdirSync, readFileSync } from 'node:fs';

/** Linux reports utime and stime in clock ticks of 1/100 s (USER_HZ) on every common platform. */
const MS_PER_TICK = 10;

interface ProcStat {
  readonly group: number;
  readonly cpuMs: number;
}

/** Process group and user + system CPU of one process; undefined once it has gone. */
function readProcStat(pid: string): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: count the fields after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { group: Number(fields[2]), cpuMs: (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK };
  } catch {
    return undefined;
  }
}

/**
 * CPU milliseconds (user + system, 10 ms resolution) each group's live processes have used so far.
 * Time of processes that already exited is not counted: compare readings of the same processes.
 */
export function processGroupCpuMs(groups: Iterable<number>): Map<number, number> {
  const totals = new Map<number, number>();
  for (const group of groups) totals.set(group, 0);
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = readProcStat(pid);
    const total = stat === undefined ? undefined : totals.get(stat.group);
    if (stat !== undefined && total !== undefined) totals.set(stat.group, total + stat.cpuMs);
  }
  return totals;
}
