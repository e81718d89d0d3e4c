// The reference data plane on a worker thread of its own, as a switch is a box of its own: its relay
// keeps a dedicated event loop (and core) whatever the process that started it is busy with, e.g. the
// local nuclei of a test bed relaying megabytes of state. Used by the two-node test bed and the demo;
// the thread itself is data-plane-thread.ts, and everything crossing between them is typed here.
import type { Worker } from 'node:worker_threads';

import { createLogger, type Logger, type LogFields } from '../../components/common/logger.ts';
import { startTypeScriptWorker } from '../../components/common/typescript-worker.ts';
import type { Topology } from '../control-plane/topology.ts';
import type { PipelineEvent } from './pipeline.ts';

export type DataPlaneThreadRequest =
  | { readonly op: 'readRegister'; readonly id: number; readonly name: string; readonly index: number }
  | {
      readonly op: 'writeRegister';
      readonly id: number;
      readonly name: string;
      readonly index: number;
      readonly value: number;
    }
  | { readonly op: 'subscribe'; readonly id: number }
  | { readonly op: 'close'; readonly id: number };

export type DataPlaneThreadReply =
  | { readonly op: 'ready'; readonly adminUrl: string | undefined }
  | { readonly op: 'failed'; readonly message: string }
  | { readonly op: 'result'; readonly id: number; readonly value: number }
  | { readonly op: 'error'; readonly id: number; readonly message: string }
  | { readonly op: 'event'; readonly event: PipelineEvent }
  /** One JSON log line of the thread's logger (components/common/logger.ts format). */
  | { readonly op: 'log'; readonly line: string };

export interface DataPlaneWorkerOptions {
  readonly topology: Topology;
  /** Admin HTTP port on 127.0.0.1; 0 picks a free one; undefined runs no admin interface. */
  readonly adminPort?: number;
  /** Logs the thread's lines (default: a logger named reference-data-plane). */
  readonly logger?: Logger;
}

const THREAD_ENTRY = new URL('./data-plane-thread.ts', import.meta.url);

type Settle = { resolve: (value: number) => void; reject: (err: Error) => void };

export class DataPlaneWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Settle>();
  readonly #listeners = new Set<(event: PipelineEvent) => void>();
  #nextId = 1;
  #closing: Promise<void> | undefined;

  readonly #logger: Logger;

  private constructor(
    worker: Worker,
    logger: Logger,
    readonly adminUrl: string | undefined,
  ) {
    this.#worker = worker;
    this.#logger = logger;
    worker.on('message', (reply: DataPlaneThreadReply) => this.#onReply(reply));
    worker.on('exit', () => {
      for (const { reject } of this.#pending.values()) reject(new Error('the data plane thread exited'));
      this.#pending.clear();
    });
  }

  static async start(options: DataPlaneWorkerOptions): Promise<DataPlaneWorker> {
    const logger = options.logger ?? createLogger('reference-data-plane');
    const worker = startTypeScriptWorker(THREAD_ENTRY, {
      topology: options.topology,
      ...(options.adminPort === undefined ? {} : { adminPort: options.adminPort }),
    });
    const ready = await new Promise<DataPlaneThreadReply>((resolve, reject) => {
      const onMessage = (reply: DataPlaneThreadReply): void => {
        if (reply.op === 'log') {
          logLine(logger, reply.line);
          return;
        }
        worker.off('message', onMessage);
        resolve(reply);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the data plane thread exited with code ${code}`)));
    });
    if (ready.op !== 'ready') {
      await worker.terminate();
      throw new Error(
        `the data plane thread did not start: ${ready.op === 'failed' ? ready.message : ready.op}`,
      );
    }
    return new DataPlaneWorker(worker, logger, ready.adminUrl);
  }

  readRegister(name: string, index: number): Promise<number> {
    return this.#call((id) => ({ op: 'readRegister', id, name, index }));
  }

  async writeRegister(name: string, index: number, value: number): Promise<void> {
    await this.#call((id) => ({ op: 'writeRegister', id, name, index, value }));
  }

  /** Every pipeline event (METRICS, ADVICE, CLAIM, ...) from now on; returns the unsubscribe function. */
  async subscribe(listener: (event: PipelineEvent) => void): Promise<() => void> {
    this.#listeners.add(listener);
    await this.#call((id) => ({ op: 'subscribe', id }));
    return () => this.#listeners.delete(listener);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#call((id) => ({ op: 'close', id })).catch(() => undefined);
      await this.#worker.terminate();
    })();
    return this.#closing;
  }

  #call(request: (id: number) => DataPlaneThreadRequest): Promise<number> {
    const id = this.#nextId++;
    return new Promise<number>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage(request(id));
    });
  }

  #onReply(reply: DataPlaneThreadReply): void {
    if (reply.op === 'log') {
      logLine(this.#logger, reply.line);
      return;
    }
    if (reply.op === 'event') {
      for (const listener of this.#listeners) listener(reply.event);
      return;
    }
    if (reply.op !== 'result' && reply.op !== 'error') return;
    const pending = this.#pending.get(reply.id);
    this.#pending.delete(reply.id);
    if (reply.op === 'result') pending?.resolve(reply.value);
    else pending?.reject(new Error(reply.message));
  }
}

/** Re-logs one of the thread's JSON lines with `logger`, so its level and sink decide. */
function logLine(logger: Logger, line: string): void {
  const {
    level,
    message,
    time: _time,
    name: _name,
    ...fields
  } = JSON.parse(line) as LogFields & {
    level: 'debug' | 'info' | 'warn' | 'error';
    message: string;
  };
  logger[level](message, fields);
}
