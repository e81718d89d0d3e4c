// `edgeshift status`: the node's EdgeShift components and their lifecycle states (GetComponentDetails),
// then the peer agent's view: functions it knows, migrations in progress (state, epoch, peer) and the
// last results. Registered by scripts/cli/edgeshift.ts. An agent that does not answer is shown, not fatal.
import type { Command } from 'commander';

import { AgentControlClient, type AgentStatusView } from '../agent-control.ts';
import type { CliContext } from '../cli-context.ts';
import { readComponentStates } from '../components.ts';
import { renderTable } from '../table.ts';

function agentLines(agent: AgentStatusView): string[] {
  const lines = [`agent ${agent.nodeId}`];
  lines.push(
    ...renderTable(
      [
        { header: 'SERVICE', value: (fn: AgentStatusView['functions'][number]) => fn.service },
        { header: 'ROLE', value: (fn) => fn.role },
        { header: 'EPOCH', value: (fn) => fn.epoch },
      ],
      agent.functions,
    ),
  );
  lines.push('', agent.migrations.length === 0 ? 'migrations in progress: none' : 'migrations in progress:');
  if (agent.migrations.length > 0) {
    lines.push(
      ...renderTable(
        [
          { header: 'MIGRATION', value: (m: AgentStatusView['migrations'][number]) => m.migration_id },
          { header: 'SERVICE', value: (m) => m.service },
          { header: 'ROLE', value: (m) => m.role },
          { header: 'STATE', value: (m) => m.state },
          { header: 'EPOCH', value: (m) => m.epoch },
          { header: 'PEER', value: (m) => m.peer_node_id },
        ],
        agent.migrations,
      ),
    );
  }
  if (agent.lastResults.length > 0) {
    lines.push('', 'last migrations:');
    lines.push(
      ...renderTable(
        [
          { header: 'MIGRATION', value: (r: AgentStatusView['lastResults'][number]) => r.migrationId },
          { header: 'SERVICE', value: (r) => r.service },
          { header: 'FROM', value: (r) => r.sourceNodeId },
          { header: 'TO', value: (r) => r.targetNodeId },
          { header: 'EPOCH', value: (r) => r.epoch },
          { header: 'CUTOVER', value: (r) => r.cutover },
          { header: 'OUTCOME', value: (r) => r.outcome },
          { header: 'TOTAL MS', value: (r) => r.totalMs },
        ],
        agent.lastResults,
      ),
    );
  }
  return lines;
}

export function registerStatus(program: Command, contextOf: (command: Command) => CliContext): void {
  program
    .command('status')
    .description('components and their lifecycle states, and the peer agent: migrations, epochs, owners')
    .action(async (_options: unknown, command: Command) => {
      const context = contextOf(command);
      await context.withIpc(async (ipc, thingName) => {
        const components = await readComponentStates(ipc);
        const agent = await new AgentControlClient(ipc, thingName, context.options.timeoutMs)
          .status()
          .then((status) => ({ ok: true as const, status }))
          .catch((err: unknown) => ({
            ok: false as const,
            error: err instanceof Error ? err.message : String(err),
          }));
        context.print(
          { thingName, components, agent: agent.ok ? agent.status : { error: agent.error } },
          () => [
            `node ${thingName}`,
            ...renderTable(
              [
                { header: 'COMPONENT', value: (c: (typeof components)[number]) => c.componentName },
                { header: 'VERSION', value: (c) => c.version },
                { header: 'STATE', value: (c) => c.state },
              ],
              components,
            ),
            '',
            ...(agent.ok ? agentLines(agent.status) : [`agent: no answer (${agent.error})`]),
          ],
        );
      });
    });
}
