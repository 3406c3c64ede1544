// The exact transport (SPEC §6) on worker threads. Each pair costs up to max(lags) float64 products of H×H matrices
// on the host: ~1 s at the paper's H = 128 and 256 lags, so the paper's 64 pairs took a minute per cell, as long as
// the GPU's part of the diagnostic stage, one after the other. Here the pairs, grouped by sequence, are shared among
// worker threads (Node), which the diagnostic stage starts before its GPU batches, so both proceed at once. The
// terms of each pair do not depend on which thread computes them and are summed in one fixed order (sumTransport):
// the result is exactTransport's, bit for bit. Runtimes without worker threads here (browsers, Deno; worker-pool.ts),
// zero threads, or a worker that cannot start compute the transport on the calling thread.
import type { ParamLayout } from '../model/params.ts';
import { envChoice } from '../gpu/runtime.ts';
import { hostCores, hostWorkers, runOnWorker } from './worker-pool.ts';
import { exactTransport, sampledSequences, sumTransport, type TransportPair, type TransportResult } from './transport.ts';

/**
 * Worker threads for the transport: LWIN_TRANSPORT_THREADS (0: the calling thread), else one fewer than the host's
 * cores (at least one, so the transport still runs beside the GPU work), no more than there are sequences; 0 where
 * there are no worker threads (worker-pool.ts hostWorkers).
 */
export async function transportThreads(sequences: number): Promise<number> {
  const forced = envChoice('LWIN_TRANSPORT_THREADS', Array.from({ length: 65 }, (_, i) => i), 'worker threads for the exact transport; 0 computes it on the calling thread');
  if (!hostWorkers()) return 0;
  if (forced !== undefined) return Math.min(forced, sequences);
  return Math.min(sequences, Math.max(1, (await hostCores()) - 1));
}

export async function exactTransportInParallel(
  layout: ParamLayout,
  params: Float32Array | Float64Array,
  x: Float32Array | Float64Array,
  steps: number,
  pairs: TransportPair[],
  lags: readonly number[],
): Promise<TransportResult> {
  const jobs = shareOut(pairs, await transportThreads(new Set(pairs.map((p) => p.sequence)).size));
  if (jobs.length < 1) return exactTransport(layout, params, x, steps, pairs, lags);
  const perSequence = steps * layout.config.inputSize;
  let shares: Float64Array[];
  try {
    shares = await Promise.all(jobs.map((job) => {
      const own = sampledSequences(job.map((i) => pairs[i]!), x, perSequence, (n) => new (x.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(n));
      return runOnWorker<Float64Array>({ kind: 'transport', layout, params, x: own.x, steps, pairs: own.pairs, lags: [...lags] });
    }));
  } catch {
    // A worker that cannot start (a loader that does not reach worker threads): the same terms, here.
    return exactTransport(layout, params, x, steps, pairs, lags);
  }
  const meanAbs = new Float64Array(pairs.length * lags.length);
  jobs.forEach((job, j) => job.forEach((pairIndex, k) => meanAbs.set(shares[j]!.subarray(k * lags.length, (k + 1) * lags.length), pairIndex * lags.length)));
  return sumTransport(layout.config.hiddenSize, pairs, lags, { meanAbs });
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
