// The node debugging CLI: `edgeshift <command>` (npm run cli -- <command>). One file per command under
// commands/; this entry parses the global options, gives each command a CliContext and turns errors into
// a message, what to do, and a non-zero exit. `runCli` is the importable form the tests drive.
// Invariant: every failure prints its code and the catalog's how-to-solve text to stderr.
import { pathToFileURL } from 'node:url';

import { Command, CommanderError } from 'commander';

import { ERROR_CATALOG, type ErrorCode } from '../../components/common/errors.ts';
import { CliContext, type CliIo, type GlobalOptions } from './cli-context.ts';
import { registerDoctor } from './commands/doctor.ts';
import { registerDrain } from './commands/drain.ts';
import { registerFunctions } from './commands/functions.ts';
import { registerIpc } from './commands/ipc.ts';
import { registerMetrics } from './commands/metrics.ts';
import { registerMigrate } from './commands/migrate.ts';
import { registerNodes } from './commands/nodes.ts';
import { registerRegisters } from './commands/registers.ts';
import { registerServices } from './commands/services.ts';
import { registerStatus } from './commands/status.ts';
import { DEFAULT_DATA_PLANE_ADMIN } from './data-plane-admin.ts';
import { positiveInteger } from './cli-arguments.ts';

function buildProgram(io: CliIo): Command {
  const program = new Command('edgeshift')
    .description('EdgeShift node debugging CLI: components, metrics, functions, migrations, data plane, IPC')
    .option(
      '--ipc <file>',
      'IPC access file {socketPath, svcuid, thingName} (the local node writes <root>/debug-ipc.json); default: the component environment',
    )
    .option(
      '--thing-name <name>',
      "the node's thing name (default: from the --ipc file or AWS_IOT_THING_NAME)",
    )
    .option('--json', 'one JSON document per result instead of tables', false)
    .option(
      '--data-plane-admin <url>',
      'reference data plane admin interface',
      io.env.EDGESHIFT_DATA_PLANE_ADMIN ?? DEFAULT_DATA_PLANE_ADMIN,
    )
    .option('--timeout-ms <ms>', 'timeout of each request', positiveInteger, 5000)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text.trimEnd()),
      writeErr: (text) => io.err(text.trimEnd()),
    });
  const contextOf = (command: Command): CliContext =>
    new CliContext(io, command.optsWithGlobals<GlobalOptions>());
  registerStatus(program, contextOf);
  registerMetrics(program, contextOf);
  registerFunctions(program, contextOf);
  registerMigrate(program, contextOf);
  registerDrain(program, contextOf);
  registerRegisters(program, contextOf);
  registerNodes(program, contextOf);
  registerServices(program, contextOf);
  registerIpc(program, contextOf);
  registerDoctor(program, contextOf);
  // Subcommands inherit exitOverride and output settings only when set on each of them.
  const configure = (command: Command): void => {
    for (const sub of command.commands) {
      sub.exitOverride().configureOutput(program.configureOutput()).showHelpAfterError();
      configure(sub);
    }
  };
  configure(program);
  return program;
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && code in ERROR_CATALOG;
}

/** Runs one CLI invocation; resolves with the exit code (0 ok, 1 failure, 2 usage). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const code = (err as { code?: unknown }).code;
    io.err(
      `error: ${err instanceof Error ? err.message : String(err)}${typeof code === 'string' ? ` (${code})` : ''}`,
    );
    if (isErrorCode(code)) io.err(`what to do: ${ERROR_CATALOG[code].howToSolve}`);
    return 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  const exitCode = await runCli(process.argv.slice(2), {
    out: (line) => process.stdout.write(line + '\n'),
    err: (line) => process.stderr.write(line + '\n'),
    env: process.env,
    signal: abort.signal,
  });
  process.exit(exitCode);
}
