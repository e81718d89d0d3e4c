// What every node CLI command gets: the global options, output (human lines or one JSON document per
// result with --json), an IPC connection made on demand with the access of this run, the node's thing
// name and the data plane admin client. Created by edgeshift.ts per run. Invariant: an IPC connection
// opened through withIpc is closed when the command's work ends, whether it succeeded or failed.
import { EdgeShiftError } from '../../components/common/errors.ts';
import { connectIpc, type IpcClient } from '../../components/common/ipc/index.ts';
import { createLogger } from '../../components/common/logger.ts';
import { DataPlaneAdminClient } from './data-plane-admin.ts';
import { resolveIpcAccess, type IpcAccess } from './ipc-access.ts';

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C: following commands (metrics --follow, ipc sub) stop and exit 0. */
  readonly signal?: AbortSignal;
}

export interface GlobalOptions {
  readonly ipc?: string;
  readonly thingName?: string;
  readonly json: boolean;
  readonly dataPlaneAdmin: string;
  readonly timeoutMs: number;
}

export class CliContext {
  constructor(
    readonly io: CliIo,
    readonly options: GlobalOptions,
  ) {}

  /** Prints `value` as one JSON line with --json, else the human lines. */
  print(value: unknown, humanLines: () => readonly string[]): void {
    if (this.options.json) {
      this.io.out(JSON.stringify(value));
      return;
    }
    for (const line of humanLines()) this.io.out(line);
  }

  resolveAccess(): Promise<IpcAccess> {
    return resolveIpcAccess(this.options.ipc, this.io.env);
  }

  thingNameOf(access: IpcAccess): string {
    const name = this.options.thingName ?? access.thingName ?? this.io.env.AWS_IOT_THING_NAME;
    if (name === undefined || name === '') {
      throw new EdgeShiftError(
        'ERR_CLI_NO_THING_NAME',
        'which node? pass --thing-name <name> (no thingName in the --ipc file and AWS_IOT_THING_NAME is unset)',
      );
    }
    return name;
  }

  /** Connects with this run's access (one attempt: a CLI reports, it does not wait), runs `work`, closes. */
  async withIpc<T>(work: (ipc: IpcClient, thingName: string, access: IpcAccess) => Promise<T>): Promise<T> {
    const access = await this.resolveAccess();
    const ipc = await connectIpc({
      socketPath: access.socketPath,
      authToken: access.svcuid,
      connectAttempts: 1,
      logger: createLogger('edgeshift-cli:ipc', { level: 'silent' }),
    });
    try {
      return await work(ipc, this.thingNameOf(access), access);
    } finally {
      await ipc.close();
    }
  }

  admin(): DataPlaneAdminClient {
    return new DataPlaneAdminClient(this.options.dataPlaneAdmin, this.options.timeoutMs);
  }

  /** Resolves when Ctrl-C aborts the run, or after `limitMs` when given. */
  untilStopped(limitMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const { signal } = this.io;
      if (signal?.aborted === true) return resolve();
      const timer = limitMs === undefined ? undefined : setTimeout(done, limitMs);
      signal?.addEventListener('abort', done, { once: true });
      function done(): void {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
    });
  }
}
