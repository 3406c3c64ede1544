// Worker threads for host work that would otherwise hold up the thread that drives the GPU: the exact transport
// (diagnostics/transport-pool.ts) and each epoch's validation set (study/task-data.ts). Node only: elsewhere (browsers,
// Deno) `hostWorkers()` is false and callers do the work on the calling thread. LWIN_WORKERS=off does the same on
// Node (benchmarks, debugging).
import { detectRuntime, envSetting } from '../gpu/runtime.ts';
import type { HostJob } from './jobs.ts';

/** Whether jobs can go to worker threads here. */
export function hostWorkers(): boolean {
  const env = envSetting('LWIN_WORKERS');
  if (env && env !== 'on' && env !== 'off') throw new Error(`LWIN_WORKERS=${env}: use 'off' (host work on the calling thread) or 'on'`);
  return env !== 'off' && detectRuntime() === 'node';
}

/** The host's cores (Node), for sizing a share of work; 1 elsewhere. */
export async function hostCores(): Promise<number> {
  if (detectRuntime() !== 'node') return 1;
  const { availableParallelism } = await import('node:os');
  return availableParallelism();
}

/**
 * Runs `job` on a new worker thread and resolves to its result; rejects if the worker cannot start or stops early
 * (callers then do the work themselves). The built package (.js) and the GPU kit's bundles (.mjs) start the compiled
 * worker beside them. From the TypeScript sources (a checkout, tsx) the worker registers tsx itself first: on Node 20
 * a worker thread does not inherit the loader the main thread was started with.
 */
export async function runOnWorker<T>(job: HostJob): Promise<T> {
  const { Worker } = await import('node:worker_threads');
  const extension = /\.(ts|mjs|js)$/.exec(import.meta.url)?.[1] ?? 'js';
  return new Promise<T>((resolve, reject) => {
    const worker = extension === 'ts'
      ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); })`, { eval: true, workerData: job })
      : new Worker(new URL(`./worker.${extension}`, import.meta.url), { workerData: job });
    worker.once('message', (value: T) => {
      resolve(value);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`a worker thread (${job.kind}) stopped (exit code ${code}) before it answered`)));
  });
}
