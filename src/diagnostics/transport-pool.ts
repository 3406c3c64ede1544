// The exact transport (SPEC §6) on worker threads. Each pair costs up to max(lags) float64 products of H×H matrices
// on the host: ~1 s at the paper's H = 128 and 256 lags, so the paper's 64 pairs took a minute per cell, as long as
// the GPU's part of the diagnostic stage, one after the other. Here the pairs, grouped by sequence, are shared among
// worker threads (Node), which the diagnostic stage starts before its GPU batches, so both proceed at once. The
// terms of each pair do not depend on which thread computes them and are summed in one fixed order (sumTransport):
// the result is exactTransport's, bit for bit. Runtimes without worker threads here (browsers, Deno), one thread,
// or a worker that cannot start compute the transport on the calling thread.
import type { ParamLayout } from '../model/params.ts';
import { detectRuntime, envChoice } from '../gpu/runtime.ts';
import { exactTransport, sumTransport, type TransportPair, type TransportResult } from './transport.ts';

/**
 * Worker threads for the transport: LWIN_TRANSPORT_THREADS (0: the calling thread), else one fewer than the host's
 * cores (at least one, so the transport still runs beside the GPU work), no more than there are sequences.
 */
export async function transportThreads(sequences: number): Promise<number> {
  const forced = envChoice('LWIN_TRANSPORT_THREADS', Array.from({ length: 65 }, (_, i) => i), 'worker threads for the exact transport; 0 computes it on the calling thread');
  if (forced !== undefined) return Math.min(forced, sequences);
  if (detectRuntime() !== 'node') return 0;
  const { availableParallelism } = await import('node:os');
  return Math.min(sequences, Math.max(1, availableParallelism() - 1));
}

export async function exactTransportInParallel(
  layout: ParamLayout,
  params: Float32Array | Float64Array,
  x: Float32Array | Float64Array,
  steps: number,
  pairs: TransportPair[],
  lags: readonly number[],
): Promise<TransportResult> {
  const H = layout.config.hiddenSize;
  const jobs = shareOut(pairs, await transportThreads(new Set(pairs.map((p) => p.sequence)).size));
  if (jobs.length < 1 || detectRuntime() !== 'node') return exactTransport(layout, params, x, steps, pairs, lags);
  const perSequence = steps * layout.config.inputSize;
  let shares: Float64Array[];
  try {
    shares = await Promise.all(jobs.map((job) => runJob(layout, params, x, steps, perSequence, pairs, job, lags)));
  } catch {
    // A worker that cannot start (a loader that does not reach worker threads): the same terms, here.
    return exactTransport(layout, params, x, steps, pairs, lags);
  }
  const meanAbs = new Float64Array(pairs.length * lags.length);
  jobs.forEach((job, j) => job.forEach((pairIndex, k) => meanAbs.set(shares[j]!.subarray(k * lags.length, (k + 1) * lags.length), pairIndex * lags.length)));
  return sumTransport(H, pairs, lags, { meanAbs });
}

/**
 * The pairs' indices in `threads` jobs, a sequence's pairs together (they share its rollout), by a greedy split of
 * the work (each pair's window length, t, bounds its products) over the least loaded job.
 */
function shareOut(pairs: readonly TransportPair[], threads: number): number[][] {
  if (threads < 1) return [];
  const bySequence = new Map<number, number[]>();
  pairs.forEach((p, i) => bySequence.set(p.sequence, [...(bySequence.get(p.sequence) ?? []), i]));
  const groups = [...bySequence.values()].map((indices) => ({ indices, work: indices.reduce((w, i) => w + pairs[i]!.t, 0) }));
  groups.sort((a, b) => b.work - a.work);
  const jobs = Array.from({ length: Math.min(threads, groups.length) }, () => ({ indices: [] as number[], work: 0 }));
  for (const group of groups) {
    const lightest = jobs.reduce((a, b) => (b.work < a.work ? b : a));
    lightest.indices.push(...group.indices);
    lightest.work += group.work;
  }
  return jobs.map((job) => job.indices.sort((a, b) => a - b));
}

/** One job on a worker thread: its sequences' inputs re-indexed from 0, its pairs; resolves to their meanAbs rows. */
async function runJob(
  layout: ParamLayout, params: Float32Array | Float64Array, x: Float32Array | Float64Array, steps: number, perSequence: number,
  pairs: readonly TransportPair[], job: readonly number[], lags: readonly number[],
): Promise<Float64Array> {
  const sequences = [...new Set(job.map((i) => pairs[i]!.sequence))];
  const local = new Map(sequences.map((s, i) => [s, i]));
  const xs = new (x.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(sequences.length * perSequence);
  sequences.forEach((s, i) => xs.set(x.subarray(s * perSequence, (s + 1) * perSequence), i * perSequence));
  const { Worker } = await import('node:worker_threads');
  const workerData = { layout, params, x: xs, steps, pairs: job.map((i) => ({ ...pairs[i]!, sequence: local.get(pairs[i]!.sequence)! })), lags: [...lags] };
  return new Promise<Float64Array>((resolve, reject) => {
    // The built package (.js) and the GPU kit's bundles (.mjs) run the compiled worker beside them. From the
    // TypeScript sources (a checkout, tsx) the worker registers tsx itself first: on Node 20 a worker thread does not
    // inherit the loader the main thread was started with.
    const extension = /\.(ts|mjs|js)$/.exec(import.meta.url)?.[1] ?? 'js';
    const worker = extension === 'ts'
      ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(new URL('./transport-worker.ts', import.meta.url).href)}); })`, { eval: true, workerData })
      : new Worker(new URL(`./transport-worker.${extension}`, import.meta.url), { workerData });
    worker.once('message', (meanAbs: Float64Array) => {
      resolve(meanAbs);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`exact transport: a worker thread stopped (exit code ${code}) before it answered`)));
  });
}
