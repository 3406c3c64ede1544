// A worker thread's loop (worker-pool.ts): runs each job it is sent and posts its result back, until the pool lets it go.
import { parentPort } from 'node:worker_threads';
import { runJob, type HostJob } from './host-jobs.ts';

parentPort!.on('message', ({ id, job }: { id: number; job: HostJob }) => {
  try {
    const { value, transfer } = runJob(job);
    parentPort!.postMessage({ id, value }, transfer);
  } catch (error) {
    parentPort!.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
