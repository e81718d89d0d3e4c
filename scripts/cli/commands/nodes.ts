// `edgeshift nodes`: the data plane's view of each node (loads, in-flight, liveness, overload streak),
// read from the reference data plane's admin interface. Registered by scripts/cli/edgeshift.ts.
import type { Command } from 'commander';

import type { CliContext } from '../cli-context.ts';
import { percentOfBp, renderTable } from '../table.ts';

export function registerNodes(program: Command, contextOf: (command: Command) => CliContext): void {
  program
    .command('nodes')
    .description("the data plane's per-node loads and liveness (admin interface)")
    .action(async (_options: unknown, command: Command) => {
      const context = contextOf(command);
      const nodes = await context.admin().nodes();
      context.print({ nodes }, () =>
        renderTable(
          [
            { header: 'NODE', value: (node) => node.name ?? `#${node.nodeId}` },
            { header: 'ID', value: (node) => node.nodeId },
            { header: 'CPU', value: (node) => percentOfBp(node.cpuLoadBp) },
            { header: 'MEM', value: (node) => percentOfBp(node.memLoadBp) },
            { header: 'LOAD', value: (node) => percentOfBp(node.loadBp) },
            { header: 'INFLIGHT', value: (node) => node.inflightRequests },
            { header: 'LIVE', value: (node) => node.isLive },
            { header: 'LAST SEQ', value: (node) => node.lastSequence },
            { header: 'STREAK', value: (node) => node.overloadStreak },
          ],
          nodes,
        ),
      );
    });
}
