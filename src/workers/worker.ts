// A worker thread's entry (pool.ts): runs the one job it was started with and posts the result back.
import { parentPort, workerData } from 'node:worker_threads';
import { runJob, type HostJob } from './jobs.ts';

const { value, transfer } = runJob(workerData as HostJob);
parentPort!.postMessage(value, transfer);
