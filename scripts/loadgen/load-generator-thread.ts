// Worker-thread entry of the load generator (started by load-generator-worker.ts): runs one
// LoadGenerator with the options it is given, takes marks, a stop and latency queries from its parent,
// and posts the report when the run ends. It stays up for queries until the parent terminates it.
import { parentPort, workerData } from 'node:worker_threads';

import { LoadGenerator } from './load-generator.ts';
import type {
  LoadGeneratorThreadOptions,
  LoadGeneratorThreadReply,
  LoadGeneratorThreadRequest,
} from './load-generator-worker.ts';
import { counterStateChecker } from './reply-checker.ts';

const port = parentPort;
if (port === null) throw new Error('load-generator-thread.ts runs as a worker thread only');
const post = (reply: LoadGeneratorThreadReply): void => port.postMessage(reply);
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

const { counterState, ...options } = workerData as LoadGeneratorThreadOptions;
const stop = new AbortController();
try {
  const generator = new LoadGenerator({
    ...options,
    ...(counterState ? { checkState: counterStateChecker(counterState) } : {}),
    signal: stop.signal,
  });
  port.on('message', (request: LoadGeneratorThreadRequest) => {
    switch (request.op) {
      case 'mark':
        generator.mark(request.label);
        return;
      case 'stop':
        stop.abort();
        return;
      case 'latencyWithin':
        try {
          post({ op: 'latency', id: request.id, summary: generator.latencyWithin(request.ranges) });
        } catch (err) {
          post({ op: 'error', id: request.id, message: messageOf(err) });
        }
    }
  });
  generator.run().then(
    (report) => post({ op: 'report', report }),
    (err: unknown) => post({ op: 'failed', message: messageOf(err) }),
  );
} catch (err) {
  post({ op: 'failed', message: messageOf(err) });
}
