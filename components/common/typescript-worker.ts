// Starts a worker thread whose entry is a TypeScript module, for the parts that run on a thread of
// their own when started from source (the reference data plane in p4/reference/, the benchmark's load
// generator in scripts/loadgen/). A worker does not inherit tsx's loader hooks, so the thread registers
// them before it imports its entry.
import { Worker } from 'node:worker_threads';

export function startTypeScriptWorker(entry: URL, workerData: unknown): Worker {
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}
