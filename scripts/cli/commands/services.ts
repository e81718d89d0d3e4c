// `edgeshift services`: each service's owner node and epoch as the data plane holds them (the result of
// the last accepted CLAIM), from the reference data plane's admin interface. Registered by edgeshift.ts.
import type { Command } from 'commander';

import type { CliContext } from '../cli-context.ts';
import { renderTable } from '../table.ts';

export function registerServices(program: Command, contextOf: (command: Command) => CliContext): void {
  program
    .command('services')
    .description("the data plane's service owners and epochs (admin interface)")
    .action(async (_options: unknown, command: Command) => {
      const context = contextOf(command);
      const services = await context.admin().services();
      context.print({ services }, () =>
        renderTable(
          [
            { header: 'SERVICE', value: (service) => service.name ?? `#${service.serviceId}` },
            { header: 'ID', value: (service) => service.serviceId },
            {
              header: 'OWNER',
              value: (service) =>
                service.ownerNodeId === 0 ? '(none)' : (service.ownerName ?? `#${service.ownerNodeId}`),
            },
            { header: 'EPOCH', value: (service) => service.epoch },
          ],
          services,
        ),
      );
    });
}
