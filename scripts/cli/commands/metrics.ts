// `edgeshift metrics [--follow]`: the node's live CPU and memory samples, as the node monitor publishes
// them on edgeshift/metrics/<thingName> (its publishLocalTopic setting must be on). Registered by
// scripts/cli/edgeshift.ts. Invariant: each report is validated before it is printed.
import { Ajv } from 'ajv';
import type { Command } from 'commander';

import { EdgeShiftError } from '../../../components/common/errors.ts';
import { metricsTopicOf, type MetricsReport } from '../../../components/node-monitor/metrics-report.ts';
import type { CliContext } from '../cli-context.ts';
import { percentOfBp } from '../table.ts';
import { positiveInteger } from '../cli-arguments.ts';

const int = { type: 'integer' } as const;
const validateReport = new Ajv().compile<MetricsReport>({
  type: 'object',
  required: ['nodeId', 'thingName', 'sequence', 'timestampMs', 'cpuLoadBp', 'memLoadBp', 'inflightRequests'],
  properties: {
    nodeId: int,
    thingName: { type: 'string' },
    sequence: int,
    timestampMs: { type: 'number' },
    cpuLoadBp: int,
    memLoadBp: int,
    inflightRequests: int,
  },
});

function reportLine(report: MetricsReport): string {
  const time = new Date(report.timestampMs).toISOString().slice(11, 23);
  return [
    time,
    report.thingName.padEnd(12),
    String(report.sequence).padStart(10),
    percentOfBp(report.cpuLoadBp).padStart(7),
    percentOfBp(report.memLoadBp).padStart(7),
    String(report.inflightRequests).padStart(8),
  ].join('  ');
}

const HEADER = ['TIME        ', 'NODE        ', '  SEQUENCE', '    CPU', '    MEM', 'INFLIGHT'].join('  ');

interface MetricsOptions {
  readonly follow: boolean;
  readonly count?: number;
}

export function registerMetrics(program: Command, contextOf: (command: Command) => CliContext): void {
  program
    .command('metrics')
    .description(
      "the node's CPU and memory samples from its node monitor (local topic edgeshift/metrics/<thing>)",
    )
    .option('--follow', 'keep printing samples until Ctrl-C', false)
    .option('--count <n>', 'stop after n samples (default 1, or unlimited with --follow)', positiveInteger)
    .action(async (options: MetricsOptions, command: Command) => {
      const context = contextOf(command);
      const limit = options.count ?? (options.follow ? undefined : 1);
      await context.withIpc(async (ipc, thingName) => {
        const topic = metricsTopicOf(thingName);
        let printed = 0;
        let done: () => void = () => undefined;
        const enough = new Promise<void>((resolve) => (done = resolve));
        if (!context.options.json) context.io.out(HEADER);
        const subscription = await ipc.subscribe(topic, (message) => {
          if (message.kind !== 'json' || !validateReport(message.value)) return;
          if (limit !== undefined && printed >= limit) return;
          printed += 1;
          const report = message.value;
          context.print(report, () => [reportLine(report)]);
          if (printed === limit) done();
        });
        // Without --follow, a node that publishes nothing is an error, not an endless wait.
        const waitMs = options.follow ? undefined : Math.max(context.options.timeoutMs, 1000);
        await Promise.race([enough, context.untilStopped(waitMs)]);
        await subscription.close();
        if (printed === 0 && !(context.io.signal?.aborted ?? false)) {
          throw new EdgeShiftError(
            'ERR_CLI_NO_METRICS',
            `no sample on ${topic} within ${waitMs ?? 0} ms: is the node monitor RUNNING (edgeshift status) with publishLocalTopic: true?`,
            { context: { topic } },
          );
        }
      });
    });
}
