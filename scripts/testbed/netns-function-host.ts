// The function host as a plain process, without a nucleus, for hosts of a namespace testbed:
// `tsx scripts/testbed/netns-function-host.ts --config '<FunctionHost configuration JSON>'`. The
// configuration passes the component's own schema and rules; the sample application's functions are
// built in. Serves the request path only (no IPC control handlers). Logs "function host running" with
// the bound service ports once ready; SIGTERM/SIGINT close it.
import { Command } from 'commander';

import { createLogger } from '../../components/common/logger.ts';
import { validateFunctionHostConfig } from '../../components/function-host/function-host-config.ts';
import { startFunctionHost } from '../../components/function-host/function-host.ts';
import { SAMPLE_APP_FUNCTIONS } from '../../components/sample-app/index.ts';

const options = new Command('netns-function-host')
  .requiredOption('--config <json>', 'the com.edgeshift.FunctionHost configuration, as JSON')
  .parse()
  .opts<{ config: string }>();
const logger = createLogger('netns-function-host');

try {
  const config = validateFunctionHostConfig(JSON.parse(options.config) as unknown);
  const host = await startFunctionHost(config, { builtins: SAMPLE_APP_FUNCTIONS, logger });
  logger.info('function host running', {
    nodeName: config.nodeName,
    services: config.services.map((service) => ({
      name: service.name,
      ...host.server.serviceAddress(service.name),
    })),
  });
  const stop = (): void => {
    void host.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (err) {
  logger.error('function host failed to start', { err });
  process.exitCode = 1;
}
