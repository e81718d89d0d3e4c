// The baseline benchmark: how well the load generator keeps its schedule, what it costs in CPU, and
// the latency floor of a UDP request/reply on loopback against udp-echo-server.ts in its own process.
// run-all.ts runs it first; its medians are the `baseline` other benchmarks' ratios divide by
// (e.g. relay p99 / echoP99Ms). Metric names are part of that contract: rename only with their users.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LoadGenerator } from '../loadgen/load-generator.ts';
import type { LoadReport } from '../loadgen/load-generator.ts';
import { counterStateChecker } from '../loadgen/reply-checker.ts';
import type { Benchmark, BenchmarkContext, Metrics } from './harness.ts';

const ECHO_SERVER = fileURLToPath(new URL('./udp-echo-server.ts', import.meta.url));

interface EchoServer {
  readonly port: number;
  readonly child: ChildProcess;
}

async function startEchoServer(): Promise<EchoServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', ECHO_SERVER, '--exit-with-parent'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`udp echo server exited with ${code} before listening`)));
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
  });
  return { port, child };
}

function stopEchoServer(server: EchoServer): Promise<void> {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null) {
      resolve();
      return;
    }
    server.child.once('exit', () => resolve());
    server.child.kill('SIGTERM');
  });
}

async function measure(
  port: number,
  phase: string,
  rateHz: number,
  durationMs: number,
): Promise<{ report: LoadReport; cpuUsPerRequest: number }> {
  const generator = new LoadGenerator({
    target: { host: '127.0.0.1', port },
    service: 'echo',
    // Keys of their own per phase: the echo server's per-key counts carry over between phases.
    keyName: (n) => `${phase}-${n}`,
    rateHz,
    durationMs,
    keyCount: 100,
    replyDeadlineMs: 1000,
    checkState: counterStateChecker(),
  });
  const cpuBefore = process.cpuUsage();
  const report = await generator.run();
  const cpu = process.cpuUsage(cpuBefore);
  // Per request rather than per second: the wait for the last replies would dilute a percentage.
  return { report, cpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, report.totals.sent) };
}

function rateErrorPercent(report: LoadReport): number {
  return (Math.abs(report.achievedRateHz - report.rateHz) / report.rateHz) * 100;
}

async function run(context: BenchmarkContext): Promise<Metrics> {
  const server = await startEchoServer();
  try {
    const steady = await measure(server.port, 'steady', 2000, context.isQuick ? 500 : 3000);
    const high = await measure(server.port, 'high', 10_000, context.isQuick ? 300 : 1000);
    const { report } = steady;
    // Lost and wrong state are kept apart: against a counter, one lost request makes every later
    // reply of its key wrong, so wrong state can dwarf the loss that caused it.
    return {
      echoP50Ms: report.latency.fromScheduled.p50Ms,
      echoP99Ms: report.latency.fromScheduled.p99Ms,
      echoMaxMs: report.latency.fromScheduled.maxMs,
      echoFromSentP50Ms: report.latency.fromSent.p50Ms,
      echoFromSentP99Ms: report.latency.fromSent.p99Ms,
      scheduleLagP99Ms: report.scheduleLag.p99Ms,
      scheduleLagMaxMs: report.scheduleLag.maxMs,
      sendRateErrorPercent: rateErrorPercent(report),
      generatorCpuUsPerRequest: steady.cpuUsPerRequest,
      lostRequests: report.totals.lost,
      duplicateReplies: report.totals.duplicates,
      wrongStateReplies: report.totals.wrongState,
      highRateEchoP99Ms: high.report.latency.fromScheduled.p99Ms,
      highRateScheduleLagP99Ms: high.report.scheduleLag.p99Ms,
      highRateSendRateErrorPercent: rateErrorPercent(high.report),
      highRateGeneratorCpuUsPerRequest: high.cpuUsPerRequest,
      highRateLostRequests: high.report.totals.lost,
      highRateWrongStateReplies: high.report.totals.wrongState,
    };
  } finally {
    await stopEchoServer(server);
  }
}

export const benchmark: Benchmark = {
  name: 'loadgen-overhead',
  description:
    'load generator schedule accuracy and CPU at 2 kHz and 10 kHz; UDP echo latency floor on loopback (the baseline)',
  run,
};
