// A container's own load from its cgroup v2 directory: CPU from usage_usec deltas (cpu.stat) over elapsed
// time × the CPUs it may use (cpu.max, or all when "max"); memory as the working set (memory.current less
// inactive_file) over memory.max (or host memory). Reads use fs.promises. Invariant: a CPU ratio only
// comes from an interval in which usage_usec and time moved forward.
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';

import {
  clampRatio,
  systemClock,
  type LoadSample,
  type LoadSampler,
  type MonotonicClock,
} from './load-sample.ts';
import { malformed, parseCounter, parseKeyValueLines, readTextFile } from './proc-files.ts';

export interface CgroupSamplerOptions {
  readonly clock?: MonotonicClock;
  /** CPUs of the host, used when cpu.max has no quota. */
  readonly hostCpuCount?: number;
  /** Memory of the host, used when memory.max is "max". */
  readonly hostMemoryBytes?: number;
}

interface CpuReading {
  readonly usageUsec: number;
  readonly atMs: number;
}

/** cpu.max is "<quota|max> <period>"; a missing file (the root cgroup has none) means no quota. */
export function parseCpuMax(text: string | undefined, path: string, hostCpuCount: number): number {
  if (text === undefined) return hostCpuCount;
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === 'max') return hostCpuCount;
  const quotaUsec = parseCounter(quota, path, 'quota');
  const periodUsec = parseCounter(period, path, 'period');
  if (quotaUsec === 0 || periodUsec === 0) throw malformed(path, 'quota and period must be above 0');
  return Math.min(hostCpuCount, quotaUsec / periodUsec);
}

export function parseMemoryMax(text: string | undefined, path: string, hostMemoryBytes: number): number {
  if (text === undefined || text.trim() === 'max') return hostMemoryBytes;
  const limitBytes = parseCounter(text.trim(), path, 'memory.max');
  if (limitBytes === 0) throw malformed(path, 'memory.max is 0');
  return Math.min(limitBytes, hostMemoryBytes);
}

export function parseCpuStatUsage(text: string, path: string): number {
  return parseCounter(parseKeyValueLines(text).get('usage_usec'), path, 'usage_usec');
}

/**
 * memory.current counts page cache the kernel can reclaim at once; like the host's MemAvailable and
 * the kubelet's working set, inactive_file (from memory.stat, when present) is not counted as used.
 */
export function workingSetBytes(currentBytes: number, memoryStat: string | undefined, path: string): number {
  const inactiveFile =
    memoryStat === undefined ? undefined : parseKeyValueLines(memoryStat).get('inactive_file');
  if (inactiveFile === undefined) return currentBytes;
  return Math.max(0, currentBytes - parseCounter(inactiveFile, path, 'inactive_file'));
}

async function readOptional(path: string, what: string): Promise<string | undefined> {
  try {
    return await readTextFile(path, what);
  } catch (err) {
    const cause = (err as { cause?: { code?: unknown } }).cause;
    if (cause?.code === 'ENOENT') return undefined;
    throw err;
  }
}

export class CgroupLoadSampler implements LoadSampler {
  private readonly clock: MonotonicClock;
  private readonly hostCpuCount: number;
  private readonly hostMemoryBytes: number;
  private previous: CpuReading | undefined;

  /** `cgroupPath` is the cgroup's directory, e.g. /sys/fs/cgroup inside a container (cgroup v2 only). */
  constructor(
    private readonly cgroupPath: string,
    options: CgroupSamplerOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.hostCpuCount = options.hostCpuCount ?? availableParallelism();
    this.hostMemoryBytes = options.hostMemoryBytes ?? totalmem();
  }

  async sample(): Promise<LoadSample> {
    const file = (name: string): string => join(this.cgroupPath, name);
    // Read one after the other so a missing file is reported the same way every time.
    const cpuStat = await readTextFile(file('cpu.stat'), 'cgroup v2 CPU usage');
    const atMs = this.clock.nowMs();
    const cpuMax = await readOptional(file('cpu.max'), 'cgroup v2 CPU quota');
    const memoryCurrent = await readTextFile(file('memory.current'), 'cgroup v2 memory usage');
    const memoryMax = await readOptional(file('memory.max'), 'cgroup v2 memory limit');
    const memoryStat = await readOptional(file('memory.stat'), 'cgroup v2 memory statistics');
    const current = { usageUsec: parseCpuStatUsage(cpuStat, file('cpu.stat')), atMs };
    const cpuCount = parseCpuMax(cpuMax, file('cpu.max'), this.hostCpuCount);
    const currentBytes = parseCounter(memoryCurrent.trim(), file('memory.current'), 'memory.current');
    const usedBytes = workingSetBytes(currentBytes, memoryStat, file('memory.stat'));
    const limitBytes = parseMemoryMax(memoryMax, file('memory.max'), this.hostMemoryBytes);
    const cpuLoadRatio = this.cpuRatioSince(current, cpuCount);
    this.previous = current;
    return { cpuLoadRatio, memLoadRatio: clampRatio(usedBytes / limitBytes) };
  }

  private cpuRatioSince(current: CpuReading, cpuCount: number): number | null {
    if (this.previous === undefined) return null;
    const usageDeltaUsec = current.usageUsec - this.previous.usageUsec;
    const elapsedUsec = (current.atMs - this.previous.atMs) * 1000;
    if (usageDeltaUsec < 0 || elapsedUsec <= 0) return null;
    return clampRatio(usageDeltaUsec / (elapsedUsec * cpuCount));
  }
}
