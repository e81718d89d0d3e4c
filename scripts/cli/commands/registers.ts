// `edgeshift registers [name]`: the data plane's registers (the P4 program's names), one row per cell
// that is not zero unless --all, labelled with node and service names. Registered by edgeshift.ts.
import type { Command } from 'commander';

import type { CliContext } from '../cli-context.ts';
import { renderTable } from '../table.ts';

interface RegistersOptions {
  readonly all: boolean;
}

export function registerRegisters(program: Command, contextOf: (command: Command) => CliContext): void {
  program
    .command('registers')
    .description("the data plane's registers (admin interface); cells that are 0 are left out unless --all")
    .argument('[name]', 'only registers whose name contains this')
    .option('--all', 'show cells that are 0 too', false)
    .action(async (name: string | undefined, options: RegistersOptions, command: Command) => {
      const context = contextOf(command);
      const registers = (await context.admin().registers()).filter(
        (register) => name === undefined || register.name.includes(name),
      );
      const cells = registers.flatMap((register) =>
        register.values
          .filter((cell) => options.all || cell.value !== 0)
          .map((cell) => ({ register: register.name, ...cell })),
      );
      context.print({ registers }, () =>
        renderTable(
          [
            { header: 'REGISTER', value: (cell) => cell.register },
            { header: 'INDEX', value: (cell) => cell.index },
            { header: 'LABEL', value: (cell) => cell.label },
            { header: 'VALUE', value: (cell) => cell.value },
          ],
          cells,
        ),
      );
    });
}
