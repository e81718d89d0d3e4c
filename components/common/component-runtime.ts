// What every component's main calls: runComponent() connects IPC, reads and validates the configuration
// (ajv schema from recipes/schemas/, `accessControl` stripped: it is the nucleus's), starts the component,
// reports RUNNING (or ERRORED), answers validate-configuration events (REJECTED with the path and
// reason, old configuration kept), applies good updates without a restart, and on SIGTERM/SIGINT calls
// the component's close() (drain, then stop), closes IPC and exits 0. Callers: components/*/main.ts,
// agent/main.ts. Invariant: the component only ever sees a validated, frozen configuration.
//
// Usage:
//   import schema from '../../recipes/schemas/com.edgeshift.NodeMonitor.schema.json' with { type: 'json' };
//   await runComponent<MonitorConfig>({
//     componentName: 'com.edgeshift.NodeMonitor', schema, rules: [thresholdsOrdered],
//     start: async ({ ipc, config, logger, thingName }) => {
//       const monitor = await startMonitor(ipc, config);
//       return { applyConfiguration: (next) => monitor.reconfigure(next), close: () => monitor.close() };
//     },
//   });
import type { AnySchema } from 'ajv';

import { compileConfigValidator, type ConfigValidator, type CrossFieldRule } from './config-validator.ts';
import { connectIpc, type IpcClient, type IpcConnectOptions } from './ipc/index.ts';
import { createLogger, type Logger } from './logger.ts';

export interface ComponentContext<T> {
  readonly componentName: string;
  readonly ipc: IpcClient;
  readonly config: Readonly<T>;
  readonly logger: Logger;
  /** AWS_IOT_THING_NAME given by the nucleus ('' when unset). */
  readonly thingName: string;
}

export interface RunningComponent<T> {
  /** Applies a validated configuration without a restart; throwing keeps the previous one. */
  applyConfiguration?(next: Readonly<T>, previous: Readonly<T>): void | Promise<void>;
  /** Drains in-flight work, then stops; called once on SIGTERM/SIGINT or stop(). */
  close(): Promise<void>;
}

export interface ComponentRuntimeOptions<T> {
  readonly componentName: string;
  readonly schema: AnySchema;
  readonly rules?: readonly CrossFieldRule<T>[];
  readonly start: (context: ComponentContext<T>) => RunningComponent<T> | Promise<RunningComponent<T>>;
  readonly ipc?: IpcConnectOptions;
  readonly logger?: Logger;
  /** Installs SIGTERM/SIGINT handlers (default true; tests turn it off and call stop()). */
  readonly handleSignals?: boolean;
  /** Where the signals come from (default process; tests pass an EventEmitter). */
  readonly signalSource?: { once(signal: 'SIGTERM' | 'SIGINT', listener: () => void): unknown };
  /** Ends the process (default process.exit); injected by tests. */
  readonly exit?: (code: number) => void;
  /**
   * Longest a stop may wait for the component and IPC to close before it exits anyway, with code 1
   * (default 10 s). With its nucleus gone, nothing else would end a component whose close hangs.
   */
  readonly stopDeadlineMs?: number;
}

export interface ComponentRuntime<T> {
  readonly ipc: IpcClient;
  /** The configuration in force. */
  readonly config: Readonly<T>;
  /** Closes the component, then IPC, then exits with exitCode; idempotent. */
  stop(exitCode?: number): Promise<void>;
}

/** The nucleus keeps each component's IPC policy in its configuration; it is not the component's setting. */
export function withoutAccessControl(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const { accessControl: _accessControl, ...rest } = value as Record<string, unknown>;
  return rest;
}

const DEFAULT_STOP_DEADLINE_MS = 10_000;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function runComponent<T>(options: ComponentRuntimeOptions<T>): Promise<ComponentRuntime<T>> {
  const logger = options.logger ?? createLogger(options.componentName);
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const validate = compileConfigValidator<T>(options.componentName, options.schema, options.rules);
  const ipc = await connectIpc({ logger: logger.child('ipc'), ...options.ipc });

  let config: Readonly<T>;
  let running: RunningComponent<T>;
  try {
    config = validate(withoutAccessControl(await ipc.getConfiguration([])));
    await subscribeToValidation(ipc, validate, logger);
    running = await options.start({
      componentName: options.componentName,
      ipc,
      config,
      logger,
      thingName: process.env.AWS_IOT_THING_NAME ?? '',
    });
  } catch (err) {
    logger.error('component failed to start', { error: err });
    await ipc.updateState('ERRORED').catch(() => undefined);
    await ipc.close().catch(() => undefined);
    exit(1);
    throw err;
  }

  // Updates apply one at a time, in arrival order, each against the configuration in force.
  let updates = Promise.resolve();
  const applyUpdate = async (): Promise<void> => {
    let next: Readonly<T>;
    try {
      next = validate(withoutAccessControl(await ipc.getConfiguration([])));
    } catch (err) {
      logger.error('configuration update rejected, previous configuration kept', { error: err });
      return;
    }
    if (JSON.stringify(next) === JSON.stringify(config)) return;
    try {
      await running.applyConfiguration?.(next, config);
      config = next;
      logger.info('configuration updated');
    } catch (err) {
      logger.error('configuration update failed to apply, previous configuration kept', { error: err });
    }
  };
  await ipc.subscribeToConfigurationUpdate(() => {
    updates = updates.then(applyUpdate);
    return updates;
  });

  const closeAll = async (): Promise<void> => {
    await running.close().catch((err: unknown) => logger.error('component close failed', { error: err }));
    await ipc.close().catch((err: unknown) => logger.error('IPC close failed', { error: err }));
  };
  const deadlineMs = options.stopDeadlineMs ?? DEFAULT_STOP_DEADLINE_MS;
  let stopping: Promise<void> | undefined;
  const stop = (exitCode = 0): Promise<void> => {
    stopping ??= (async () => {
      logger.info('stopping', { exitCode });
      let timer: NodeJS.Timeout | undefined;
      const isClosed = await Promise.race([
        closeAll().then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), deadlineMs))),
      ]);
      clearTimeout(timer);
      if (isClosed) return exit(exitCode);
      logger.error('close did not finish in time: exiting anyway', { deadlineMs });
      exit(1);
    })();
    return stopping;
  };

  if (options.handleSignals ?? true) {
    const signals = options.signalSource ?? process;
    signals.once('SIGTERM', () => void stop(0));
    signals.once('SIGINT', () => void stop(0));
  }
  // Without IPC the component cannot report or be reconfigured: stop, and let the nucleus restart it.
  ipc.onDisconnect(() => void stop(1));

  await ipc.updateState('RUNNING');
  logger.info('running');
  return {
    ipc,
    get config() {
      return config;
    },
    stop,
  };
}

async function subscribeToValidation<T>(
  ipc: IpcClient,
  validate: ConfigValidator<T>,
  logger: Logger,
): Promise<void> {
  await ipc.subscribeToValidateConfigurationUpdates(async ({ deploymentId, configuration }) => {
    try {
      validate(withoutAccessControl(configuration));
      await ipc.sendConfigurationValidityReport(deploymentId, 'ACCEPTED');
    } catch (err) {
      logger.warn('rejected a configuration update', { deploymentId, error: err });
      await ipc.sendConfigurationValidityReport(deploymentId, 'REJECTED', messageOf(err));
    }
  });
}
