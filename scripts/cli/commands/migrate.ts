// `edgeshift migrate <service> --to <node> [--option in-network|reconfiguration]`: a forced migration
// through the peer agent's control interface. Starts it, follows its states (polling the agent's status)
// as a progress display, then prints the transition timeline and the timing numbers of the result.
// Registered by scripts/cli/edgeshift.ts. An aborted migration exits non-zero with the abort reason.
import { InvalidArgumentError, type Command } from 'commander';

import { PEER_AGENT_COMPONENT } from '../../../agent/agent-config.ts';
import { EdgeShiftError } from '../../../components/common/errors.ts';
import type { IpcClient } from '../../../components/common/ipc/index.ts';
import { AgentControlClient, type AgentResultView } from '../agent-control.ts';
import type { CliContext } from '../cli-context.ts';
import { renderTable } from '../table.ts';
import { positiveInteger } from '../cli-arguments.ts';

const CUTOVER_OPTIONS = ['in-network', 'reconfiguration'] as const;
type CutoverOption = (typeof CUTOVER_OPTIONS)[number];
const POLL_INTERVAL_MS = 50;

interface MigrateOptions {
  readonly to: string;
  readonly option?: CutoverOption;
  readonly waitMs: number;
}

function cutoverOption(text: string): CutoverOption {
  const option = CUTOVER_OPTIONS.find((candidate) => candidate === text);
  if (option === undefined)
    throw new InvalidArgumentError(`expected in-network or reconfiguration, got "${text}"`);
  return option;
}

/** The cutover the agent is configured with for the service; the option is per service in its configuration. */
async function configuredCutover(ipc: IpcClient, service: string): Promise<string | undefined> {
  // The nucleus answers a list leaf wrapped in an object: read the whole configuration instead.
  const configuration = await ipc.getConfiguration([], PEER_AGENT_COMPONENT).catch(() => undefined);
  const services = (configuration as { services?: unknown } | undefined)?.services;
  if (!Array.isArray(services)) return undefined;
  const entry: unknown = services.find(
    (candidate: unknown) =>
      typeof candidate === 'object' &&
      candidate !== null &&
      (candidate as { name?: unknown }).name === service,
  );
  const cutover = (entry as { cutover?: unknown } | undefined)?.cutover;
  return typeof cutover === 'string' ? cutover : undefined;
}

function ms(value: number): string {
  return value.toFixed(1);
}

/** A migration result as text: outcome line, transition timeline, timing and size numbers. */
export function migrationResultLines(result: AgentResultView): string[] {
  const startMs = result.transitions[0]?.atMs ?? 0;
  return [
    `migration ${result.migrationId} ${result.outcome}: ${result.service} ${result.sourceNodeId} → ${result.targetNodeId}, epoch ${result.epoch}, ${result.cutover} cutover`,
    ...renderTable(
      [
        {
          header: 'AT MS',
          value: (t: AgentResultView['transitions'][number]) => Math.round(t.atMs - startMs),
        },
        { header: 'FROM', value: (t) => t.from },
        { header: 'TO', value: (t) => t.to },
      ],
      result.transitions,
    ),
    `total ${ms(result.totalMs)} ms, transfer ${ms(result.transferMs)} ms, freeze window ${ms(result.freezeWindowMs)} ms (service frozen ${ms(result.serviceFrozenMs)} ms), cutover ${ms(result.cutoverMs)} ms`,
    `snapshot ${result.snapshotBytes} bytes in ${result.chunkCount} chunks, ${result.deltaRounds} delta rounds (${result.deltaBytes} bytes), ${result.bufferedRequests} requests buffered, ${result.forwardedRequests} forwarded`,
  ];
}

async function follow(
  context: CliContext,
  agent: AgentControlClient,
  migrationId: string,
  waitMs: number,
): Promise<AgentResultView> {
  const deadline = Date.now() + waitMs;
  let lastState = '';
  for (;;) {
    const status = await agent.status();
    const result = status.lastResults.find((candidate) => candidate.migrationId === migrationId);
    if (result !== undefined) return result;
    const running = status.migrations.find((candidate) => candidate.migration_id === migrationId);
    if (running !== undefined && running.state !== lastState) {
      lastState = running.state;
      if (!context.options.json) context.io.out(`  … ${running.state}`);
    }
    if (Date.now() > deadline) {
      throw new EdgeShiftError(
        'ERR_CLI_MIGRATION_FAILED',
        `migration ${migrationId} did not finish within ${waitMs} ms (last state ${lastState || 'unknown'}); follow it with \`edgeshift status\``,
        { context: { migrationId } },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

export function registerMigrate(program: Command, contextOf: (command: Command) => CliContext): void {
  program
    .command('migrate')
    .description("move a service from this node to another now, through the peer agent's control interface")
    .argument('<service>', 'service name, e.g. sensor-stats')
    .requiredOption('--to <node>', 'target node id (the peer name in the agent configuration)')
    .option('--option <cutover>', 'expected cutover option: in-network or reconfiguration', cutoverOption)
    .option('--wait-ms <ms>', 'how long to follow the migration', positiveInteger, 120_000)
    .action(async (service: string, options: MigrateOptions, command: Command) => {
      const context = contextOf(command);
      await context.withIpc(async (ipc, thingName) => {
        if (options.option !== undefined) {
          const configured = await configuredCutover(ipc, service);
          if (configured !== undefined && configured !== options.option) {
            throw new EdgeShiftError(
              'ERR_CLI_BAD_ARGUMENT',
              `--option ${options.option}: the peer agent of ${thingName} is configured with ${configured} cutover for ${service}; ` +
                `change services[].cutover in its configuration (a deployment merge) or omit --option`,
            );
          }
        }
        const agent = new AgentControlClient(ipc, thingName, context.options.timeoutMs);
        const migrationId = await agent.startMigration(service, options.to);
        if (!context.options.json)
          context.io.out(`migration ${migrationId}: ${service} ${thingName} → ${options.to}`);
        const result = await follow(context, agent, migrationId, options.waitMs);
        context.print(result, () => migrationResultLines(result));
        if (result.outcome !== 'committed') {
          const reason = result.abortReason;
          throw new EdgeShiftError(
            'ERR_CLI_MIGRATION_FAILED',
            `migration ${migrationId} ${result.outcome}` +
              (reason === undefined ? '' : `: ${reason.code} ${reason.message}`) +
              `; ${thingName} keeps serving ${service}`,
            { context: { migrationId, ...(reason === undefined ? {} : { abortCode: reason.code }) } },
          );
        }
      });
    });
}
