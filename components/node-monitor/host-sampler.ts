// Host load from the kernel's own counters: CPU from deltas of the aggregate "cpu" line of /proc/stat
// (jiffies), memory as 1 - MemAvailable/MemTotal from /proc/meminfo. Both files are read with
// fs.promises (~0.2 ms), so sampling never blocks the event loop, unlike systeminformation's
// currentLoad() (execSync, ~36 ms). Invariant: a ratio is only computed over an interval of increasing counters.
import { join } from 'node:path';

import { clampRatio, type LoadSample, type LoadSampler } from './load-sample.ts';
import { malformed, parseCounter, parseKeyValueLines, readTextFile } from './proc-files.ts';

export interface CpuTimes {
  readonly busyJiffies: number;
  readonly totalJiffies: number;
}

/**
 * The aggregate line is "cpu user nice system idle iowait irq softirq steal guest guest_nice".
 * guest and guest_nice are already counted in user and nice, so they are left out of the total;
 * idle and iowait are the idle time.
 */
export function parseProcStat(text: string, path: string): CpuTimes {
  const line = text.split('\n').find((candidate) => candidate.startsWith('cpu '));
  if (line === undefined) throw malformed(path, 'no aggregate "cpu " line');
  const fields = line.trim().split(/\s+/).slice(1);
  if (fields.length < 4)
    throw malformed(path, `the cpu line has ${fields.length} counters, expected at least 4`);
  const names = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'];
  const counters = names.map((name, index) =>
    index < fields.length ? parseCounter(fields[index], path, `cpu ${name}`) : 0,
  );
  const totalJiffies = counters.reduce((sum, value) => sum + value, 0);
  const idleJiffies = (counters[3] ?? 0) + (counters[4] ?? 0);
  return { busyJiffies: totalJiffies - idleJiffies, totalJiffies };
}

export function parseMeminfo(text: string, path: string): number {
  const values = parseKeyValueLines(text);
  const totalKb = parseCounter(values.get('MemTotal'), path, 'MemTotal');
  const availableKb = parseCounter(values.get('MemAvailable'), path, 'MemAvailable');
  if (totalKb === 0) throw malformed(path, 'MemTotal is 0');
  return clampRatio(1 - availableKb / totalKb);
}

/** Busy share of the interval between two readings; null when the counters did not move forward. */
export function cpuRatioBetween(previous: CpuTimes, current: CpuTimes): number | null {
  const totalDelta = current.totalJiffies - previous.totalJiffies;
  const busyDelta = current.busyJiffies - previous.busyJiffies;
  if (totalDelta <= 0 || busyDelta < 0) return null;
  return clampRatio(busyDelta / totalDelta);
}

export class HostLoadSampler implements LoadSampler {
  private readonly statPath: string;
  private readonly meminfoPath: string;
  private previous: CpuTimes | undefined;

  /** `procRoot` is /proc in production, a fixture directory in tests. */
  constructor(procRoot = '/proc') {
    this.statPath = join(procRoot, 'stat');
    this.meminfoPath = join(procRoot, 'meminfo');
  }

  async sample(): Promise<LoadSample> {
    const statText = await readTextFile(this.statPath, 'host CPU counters');
    const meminfoText = await readTextFile(this.meminfoPath, 'host memory counters');
    const current = parseProcStat(statText, this.statPath);
    const memLoadRatio = parseMeminfo(meminfoText, this.meminfoPath);
    const cpuLoadRatio = this.previous === undefined ? null : cpuRatioBetween(this.previous, current);
    this.previous = current;
    return { cpuLoadRatio, memLoadRatio };
  }
}
