// Worker-thread entry of the reference data plane (started by data-plane-worker.ts): runs
// startReferenceDataPlane with the topology it is given and answers register reads and writes and
// event subscriptions posted by its parent; its log lines go to the parent, which logs them with its
// own logger. Messages are the DataPlaneThreadRequest/Reply types there.
import { parentPort, workerData } from 'node:worker_threads';

import { createLogger } from '../../components/common/logger.ts';
import type { Topology } from '../control-plane/topology.ts';
import type { DataPlaneThreadReply, DataPlaneThreadRequest } from './data-plane-worker.ts';
import { startReferenceDataPlane } from './reference-data-plane.ts';

interface ThreadData {
  readonly topology: Topology;
  readonly adminPort?: number;
}

const port = parentPort;
if (port === null) throw new Error('data-plane-thread.ts runs as a worker thread only');
const data = workerData as ThreadData;
const post = (reply: DataPlaneThreadReply): void => port.postMessage(reply);

try {
  const dataPlane = await startReferenceDataPlane({
    topology: data.topology,
    logger: createLogger('data-plane', { level: 'debug', sink: (line) => post({ op: 'log', line }) }),
    ...(data.adminPort === undefined ? {} : { adminPort: data.adminPort }),
  });
  let unsubscribe: (() => void) | undefined;
  port.on('message', (request: DataPlaneThreadRequest) => {
    try {
      switch (request.op) {
        case 'readRegister':
          post({
            op: 'result',
            id: request.id,
            value: dataPlane.pipeline.readRegister(request.name, request.index),
          });
          return;
        case 'writeRegister':
          dataPlane.pipeline.writeRegister(request.name, request.index, request.value);
          post({ op: 'result', id: request.id, value: request.value });
          return;
        case 'subscribe':
          unsubscribe ??= dataPlane.pipeline.subscribe((event) => post({ op: 'event', event }));
          post({ op: 'result', id: request.id, value: 0 });
          return;
        case 'close':
          unsubscribe?.();
          void dataPlane.close().then(() => {
            post({ op: 'result', id: request.id, value: 0 });
            port.close();
          });
          return;
      }
    } catch (err) {
      post({ op: 'error', id: request.id, message: (err as Error).message });
    }
  });
  post({ op: 'ready', adminUrl: dataPlane.admin?.url });
} catch (err) {
  post({ op: 'failed', message: (err as Error).message });
  port.close();
}
