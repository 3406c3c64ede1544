// Worker threads for host work that would otherwise hold up the thread that drives the GPU: the exact transport
// (transport-pool.ts) and each epoch's validation set (study/task-data.ts). They live here, with their main job's
// code, so the layers' imports run one way. Node only: elsewhere (browsers,
// Deno) `hostWorkers()` is false and callers do the work on the calling thread. LWIN_WORKERS=off does the same on
// Node (benchmarks, debugging).
import { detectRuntime, envSetting } from '../gpu/runtime.ts';
import type { HostJob } from './host-jobs.ts';

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

type NodeWorker = import('node:worker_threads').Worker;
interface Reply {
  id: number;
  value?: unknown;
  error?: string;
}

/** Worker threads between jobs: kept, unreferenced (they do not keep the process alive), for the next job. */
const idle: NodeWorker[] = [];
let nextId = 0;

/**
 * Runs `job` on a worker thread (an idle one, or a new one) and resolves to its result; rejects if the worker
 * cannot start, fails or stops (callers then do the work themselves). The built package (.js) and the GPU kit's
 * bundles (.mjs) start the compiled worker beside them. From the TypeScript sources (a checkout, tsx) the worker
 * registers tsx itself first: on Node 20 a worker thread does not inherit the loader the main thread was started with.
 */
export async function runOnWorker<T>(job: HostJob): Promise<T> {
  const worker = idle.pop() ?? (await startWorker());
  worker.ref(); // a job in flight keeps the process alive
  let value: T;
  try {
    value = await ask<T>(worker, nextId++, job);
  } catch (error) {
    void worker.terminate(); // not reused after a failure
    throw error;
  } finally {
    worker.unref();
  }
  idle.push(worker);
  return value;
}

/** Posts `job` to `worker` and waits for the reply with its id. */
function ask<T>(worker: NodeWorker, id: number, job: HostJob): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (reply: Reply) => {
      if (reply.id !== id) return;
      cleanup();
      if (reply.error !== undefined) reject(new Error(`a worker thread's ${job.kind} job failed: ${reply.error}`));
      else resolve(reply.value as T);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`a worker thread (${job.kind}) stopped (exit code ${code}) before it answered`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage({ id, job });
  });
}

async function startWorker(): Promise<NodeWorker> {
  const { Worker } = await import('node:worker_threads');
  const extension = /\.(ts|mjs|js)$/.exec(import.meta.url)?.[1] ?? 'js';
  const worker = extension === 'ts'
    ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(new URL('./host-worker.ts', import.meta.url).href)}); })`, { eval: true })
    : new Worker(new URL(`./host-worker.${extension}`, import.meta.url));
  worker.unref();
  return worker;
}
