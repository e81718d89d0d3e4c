// `edgeshift drain`: before maintenance of a node, moves every service it owns to a peer through the
// peer agent's control interface (the same drain its function host asks for when it stops), and prints
// where each went. Registered by scripts/cli/edgeshift.ts. A service no peer took fails the command.
import type { Command } from 'commander';

import { EdgeShiftError } from '../../../components/common/errors.ts';
import { AgentControlClient } from '../agent-control.ts';
import type { CliContext } from '../cli-context.ts';
import { renderTable } from '../table.ts';
import { positiveInteger } from '../cli-arguments.ts';

export function registerDrain(program: Command, contextOf: (command: Command) => CliContext): void {
  program
    .command('drain')
    .description('move every service this node owns to a peer now (before maintenance)')
    .option('--wait-ms <ms>', 'how long to wait for the moves', positiveInteger, 120_000)
    .action(async (options: { readonly waitMs: number }, command: Command) => {
      const context = contextOf(command);
      await context.withIpc(async (ipc, thingName) => {
        const report = await new AgentControlClient(ipc, thingName, context.options.timeoutMs).drain(
          options.waitMs,
        );
        const rows = [
          ...report.moved.map((entry) => ({
            service: entry.service,
            outcome: `moved to ${entry.targetNodeId} at epoch ${entry.epoch}`,
          })),
          ...report.kept.map((entry) => ({ service: entry.service, outcome: `kept: ${entry.reason}` })),
        ];
        context.print(report, () =>
          rows.length === 0
            ? [`${thingName} owns no service: nothing to move`]
            : renderTable(
                [
                  { header: 'SERVICE', value: (row: (typeof rows)[number]) => row.service },
                  { header: 'OUTCOME', value: (row) => row.outcome },
                ],
                rows,
              ),
        );
        if (report.kept.length > 0) {
          throw new EdgeShiftError(
            'ERR_CLI_DRAIN_INCOMPLETE',
            `${thingName} still owns ${report.kept.map((entry) => entry.service).join(', ')}`,
            { context: { kept: report.kept.length } },
          );
        }
      });
    });
}
