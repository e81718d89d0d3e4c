// The load generator on a worker thread of its own, as clients are hosts of their own: its sends and
// the timestamps of its replies keep a dedicated event loop whatever the starting process is busy
// with (a test bed's local nuclei and component log pipes share the main thread, and were busiest
// exactly during a migration). Used by the migration benchmark; the thread is
// load-generator-thread.ts, and everything crossing between them is typed here.
import type { Worker } from 'node:worker_threads';

import { EdgeShiftError } from '../../components/common/errors.ts';
import { startTypeScriptWorker } from '../../components/common/typescript-worker.ts';
import type { LatencySummary, TimeRange } from './latency-timeline.ts';
import type { LoadGeneratorOptions, LoadReport } from './load-generator.ts';

/** The options that can cross to a thread: no functions; the state check is the counter one, by its options. */
export type LoadGeneratorThreadOptions = Omit<
  LoadGeneratorOptions,
  'keyName' | 'makeBody' | 'checkState' | 'now' | 'onProgress' | 'signal'
> & {
  /** Checks replies with counterStateChecker(these options) when given. */
  readonly counterState?: { readonly countField?: string; readonly countsSelf?: boolean };
};

export type LoadGeneratorThreadRequest =
  | { readonly op: 'mark'; readonly label: string }
  | { readonly op: 'stop' }
  | { readonly op: 'latencyWithin'; readonly id: number; readonly ranges: readonly TimeRange[] };

export type LoadGeneratorThreadReply =
  | { readonly op: 'report'; readonly report: LoadReport }
  | { readonly op: 'failed'; readonly message: string }
  | { readonly op: 'latency'; readonly id: number; readonly summary: LatencySummary }
  | { readonly op: 'error'; readonly id: number; readonly message: string };

const THREAD_ENTRY = new URL('./load-generator-thread.ts', import.meta.url);

type Settle<T> = { resolve: (value: T) => void; reject: (err: Error) => void };

function threadError(message: string): EdgeShiftError {
  return new EdgeShiftError('ERR_LOADGEN_THREAD', `load generator thread: ${message}`);
}

export class LoadGeneratorWorker {
  /** Settles when the run ends (schedule done, or stop()). */
  readonly report: Promise<LoadReport>;
  readonly #worker: Worker;
  readonly #pending = new Map<number, Settle<LatencySummary>>();
  #nextId = 1;

  private constructor(worker: Worker) {
    this.#worker = worker;
    this.report = new Promise<LoadReport>((resolve, reject) => {
      worker.on('message', (reply: LoadGeneratorThreadReply) => {
        if (reply.op === 'report') resolve(reply.report);
        else if (reply.op === 'failed') reject(threadError(reply.message));
        else this.#settle(reply);
      });
      worker.on('error', (err) => reject(threadError(err.message)));
      worker.on('exit', (code) => {
        reject(threadError(`exited with code ${code} before its report`));
        for (const { reject: fail } of this.#pending.values()) fail(threadError('exited'));
        this.#pending.clear();
      });
    });
    // Awaited by the caller; a failure before then must not count as unhandled.
    this.report.catch(() => undefined);
  }

  /** Starts the run at once on a new thread. */
  static start(options: LoadGeneratorThreadOptions): LoadGeneratorWorker {
    return new LoadGeneratorWorker(startTypeScriptWorker(THREAD_ENTRY, options));
  }

  /** Records an event on the run's time axis (LoadGenerator.mark, on the thread). */
  mark(label: string): void {
    this.#post({ op: 'mark', label });
  }

  /** Ends the schedule early; the report follows once replies to what was sent are in. */
  stop(): void {
    this.#post({ op: 'stop' });
  }

  /** LoadGenerator.latencyWithin, answered by the thread; call it once the report has come. */
  latencyWithin(ranges: readonly TimeRange[]): Promise<LatencySummary> {
    const id = this.#nextId++;
    return new Promise<LatencySummary>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#post({ op: 'latencyWithin', id, ranges });
    });
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }

  #post(request: LoadGeneratorThreadRequest): void {
    this.#worker.postMessage(request);
  }

  #settle(reply: Extract<LoadGeneratorThreadReply, { op: 'latency' | 'error' }>): void {
    const pending = this.#pending.get(reply.id);
    this.#pending.delete(reply.id);
    if (reply.op === 'latency') pending?.resolve(reply.summary);
    else pending?.reject(threadError(reply.message));
  }
}
