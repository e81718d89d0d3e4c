// `edgeshift functions`: the function host's functions with their role (owner, frozen, forwarding,
// importing, standby), epoch, state size and request counts, through its listFunctions control
// operation over IPC (the client the peer agent uses). Registered by scripts/cli/edgeshift.ts.
import type { Command } from 'commander';

import { IpcFunctionHostControl } from '../../../agent/function-host-client.ts';
import type { CliContext } from '../cli-context.ts';
import { renderTable } from '../table.ts';

export function registerFunctions(program: Command, contextOf: (command: Command) => CliContext): void {
  program
    .command('functions')
    .description("the function host's functions and their state (listFunctions over IPC)")
    .action(async (_options: unknown, command: Command) => {
      const context = contextOf(command);
      const functions = await context.withIpc((ipc, thingName) =>
        new IpcFunctionHostControl(ipc, thingName).call({ op: 'listFunctions' }, context.options.timeoutMs),
      );
      context.print({ functions }, () =>
        renderTable(
          [
            { header: 'SERVICE', value: (fn) => fn.service },
            { header: 'ID', value: (fn) => fn.serviceId },
            { header: 'KIND', value: (fn) => (fn.isStateful ? 'stateful' : 'stateless') },
            { header: 'ROLE', value: (fn) => fn.role },
            { header: 'EPOCH', value: (fn) => fn.epoch },
            { header: 'KEYS', value: (fn) => fn.stateKeys },
            { header: 'STATE BYTES', value: (fn) => fn.stateBytes },
            { header: 'PROCESSED', value: (fn) => fn.processedRequests },
            { header: 'BUFFERED', value: (fn) => fn.bufferedRequests },
          ],
          functions,
        ),
      );
    });
}
