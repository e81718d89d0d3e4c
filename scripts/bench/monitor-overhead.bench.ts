// The node monitor's cost on its own process at 10 Hz with the host sampler: CPU in % of one core
// (process.cpuUsage) and event-loop delay (perf_hooks.monitorEventLoopDelay, worst and p99), each
// against an idle phase of the same run; and, for comparison, the same with systeminformation's
// currentLoad() + mem(), whose execSync blocks the loop (why the monitor reads /proc itself).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';

import si from 'systeminformation';

import { createLogger } from '../../components/common/logger.ts';
import { HostLoadSampler } from '../../components/node-monitor/host-sampler.ts';
import { NodeMonitor } from '../../components/node-monitor/node-monitor.ts';
import { validateNodeMonitorConfig } from '../../components/node-monitor/node-monitor-config.ts';
import { formatResultsTable, runBenchmark, type Benchmark, type Metrics } from './harness.ts';

const PERIOD_MS = 100;
/** UDP discard: nothing listens, the kernel drops the METRICS packets (ICMP errors are ignored). */
const SINK = { address: '127.0.0.1', port: 9 };
const SAMPLE_TIMING_COUNT = 1000;

interface PhaseResult {
  readonly cpuPercent: number;
  readonly loopDelayMaxMs: number;
  readonly loopDelayP99Ms: number;
}

/** Runs `durationMs` of whatever `start` sets going and measures CPU and event-loop delay meanwhile. */
async function measurePhase(
  durationMs: number,
  start: () => Promise<() => Promise<void>>,
): Promise<PhaseResult> {
  const stop = await start();
  // Let start-up settle before measuring.
  await sleep(PERIOD_MS * 3);
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const cpuBefore = process.cpuUsage();
  const wallBeforeMs = performance.now();
  histogram.enable();
  await sleep(durationMs);
  histogram.disable();
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = performance.now() - wallBeforeMs;
  await stop();
  return {
    cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
    loopDelayMaxMs: histogram.max / 1e6,
    loopDelayP99Ms: histogram.percentile(99) / 1e6,
  };
}

function idle(): Promise<() => Promise<void>> {
  return Promise.resolve(() => Promise.resolve());
}

async function runMonitor(): Promise<() => Promise<void>> {
  const config = validateNodeMonitorConfig({
    nodeId: 1,
    periodMs: PERIOD_MS,
    source: { kind: 'host' },
    dataPlane: SINK,
  });
  const monitor = new NodeMonitor(config, { logger: createLogger('bench-monitor', { level: 'silent' }) });
  await monitor.start();
  return () => monitor.close();
}

/** What a monitor built on systeminformation would do each period. */
function runSystemInformation(): Promise<() => Promise<void>> {
  const timer = setInterval(() => {
    void Promise.all([si.currentLoad(), si.mem()]);
  }, PERIOD_MS);
  return Promise.resolve(() => {
    clearInterval(timer);
    return Promise.resolve();
  });
}

async function meanHostSampleMs(): Promise<number> {
  const sampler = new HostLoadSampler();
  const startMs = performance.now();
  for (let i = 0; i < SAMPLE_TIMING_COUNT; i += 1) await sampler.sample();
  return (performance.now() - startMs) / SAMPLE_TIMING_COUNT;
}

/**
 * How long one call holds the event loop before the loop gets to its next turn: systeminformation's
 * currentLoad() runs execSync in a nextTick; calls are spaced past its 200 ms cache.
 */
async function maxBlockedMs(call: () => Promise<unknown>, count: number): Promise<number> {
  let worstMs = 0;
  for (let i = 0; i < count; i += 1) {
    const startMs = performance.now();
    const pending = call();
    // Work queued with process.nextTick (where systeminformation runs its execSync) finishes first.
    await new Promise((resolve) => setImmediate(resolve));
    worstMs = Math.max(worstMs, performance.now() - startMs);
    await pending;
    await sleep(250);
  }
  return worstMs;
}

function prefixed(prefix: string, phase: PhaseResult): Metrics {
  return {
    [`${prefix}CpuPercent`]: phase.cpuPercent,
    [`${prefix}LoopDelayMaxMs`]: phase.loopDelayMaxMs,
    [`${prefix}LoopDelayP99Ms`]: phase.loopDelayP99Ms,
  };
}

export const benchmark: Benchmark = {
  name: 'monitor-overhead',
  description:
    'node monitor at 10 Hz (host sampler): CPU % of one core and event-loop delay vs idle, and vs systeminformation',
  async run(context) {
    const phaseMs = context.isQuick ? 2000 : 20_000;
    const blockedCallCount = context.isQuick ? 3 : 10;
    const hostSampler = new HostLoadSampler();
    const idlePhase = await measurePhase(phaseMs, idle);
    const monitorPhase = await measurePhase(phaseMs, runMonitor);
    const siPhase = await measurePhase(phaseMs, runSystemInformation);
    return {
      ...prefixed('idle', idlePhase),
      ...prefixed('monitor', monitorPhase),
      ...prefixed('systeminformation', siPhase),
      monitorOverheadCpuPercent: monitorPhase.cpuPercent - idlePhase.cpuPercent,
      systeminformationOverheadCpuPercent: siPhase.cpuPercent - idlePhase.cpuPercent,
      hostSampleMeanMs: await meanHostSampleMs(),
      hostSampleBlockedMaxMs: await maxBlockedMs(() => hostSampler.sample(), blockedCallCount),
      currentLoadBlockedMaxMs: await maxBlockedMs(() => si.currentLoad(), blockedCallCount),
    };
  },
};

// `npx tsx scripts/bench/monitor-overhead.bench.ts [repeat] [--quick]` runs this benchmark alone.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const repeat = Number(process.argv.find((arg) => /^\d+$/.test(arg)) ?? 3);
  const result = await runBenchmark(benchmark, { repeat, isQuick: process.argv.includes('--quick') });
  console.log(formatResultsTable([result]));
}
