// The reference data plane as a process: `tsx scripts/reference-data-plane.ts --topology <yaml>
// [--admin-port <port>]`. Loads and validates the topology, starts the pipeline, the UDP relay and
// the admin interface, logs decisions as JSON lines, and closes everything on SIGTERM/SIGINT.
import { Command, InvalidArgumentError } from 'commander';
import { createLogger } from '../components/common/logger.ts';
import { loadTopology } from '../p4/control-plane/topology.ts';
import { startReferenceDataPlane } from '../p4/reference/reference-data-plane.ts';

function portNumber(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError(`'${text}' is not a port (0..65535)`);
  return port;
}

const program = new Command()
  .name('reference-data-plane')
  .description('EdgeShift reference data plane: the P4 pipeline in TypeScript behind a UDP relay')
  .requiredOption('--topology <yaml>', 'topology file (p4/control-plane/*.yaml)')
  .option('--admin-port <port>', 'admin HTTP interface on 127.0.0.1 (0 = any free port)', portNumber)
  .option('--summary-interval-ms <ms>', 'period of the per-node load summary', portNumber, 1000)
  .parse();

const options = program.opts<{ topology: string; adminPort?: number; summaryIntervalMs: number }>();
const logger = createLogger('reference-data-plane');

try {
  const topology = await loadTopology(options.topology);
  const dataPlane = await startReferenceDataPlane({
    topology,
    logger,
    summaryIntervalMs: options.summaryIntervalMs,
    ...(options.adminPort === undefined ? {} : { adminPort: options.adminPort }),
  });
  logger.info('reference data plane running', { topology: topology.name, admin: dataPlane.admin?.url });
  const stop = (signal: string): void => {
    logger.info('stopping', { signal });
    void dataPlane.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
} catch (err) {
  logger.error('reference data plane failed to start', { err });
  process.exitCode = 1;
}
