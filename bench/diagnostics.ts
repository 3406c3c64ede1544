// The diagnostic stage (μ windows, envelopes, ρ, ψ) per cell: sequence-lags per second, peak GPU memory, the
// per-kernel profile, and the projected wall time at the paper's diagnostic size (N=8000, T=1024, H=128, 128 lags).
// Projection: window kernels scale with N·T·H·L, recurrent ones (forward, tangent, ρ) with N·T·H², exact transport
// (64 pairs, host) with H³·ℓ_max, shared among the worker threads that run it beside the GPU's part; each part is
// scaled from what this run measured, and the stage takes the longer of the two.
import type { GpuContext } from '../src/gpu/index.ts';
import { formatBytes, formatProfile } from '../src/gpu/index.ts';
import type { ProfileReport } from '../src/gpu/profiler.ts';
import { buildLayout, cellLayerNorm, initParams, type CellKind } from '../src/model/index.ts';
import { OWN_CELL_KINDS } from '../src/model/cells.ts';
import { MultiLagTask } from '../src/data/task.ts';
import { lagGrid } from '../src/diagnostics/lags.ts';
import { runDiagnostics } from '../src/diagnostics/stage.ts';
import { exactTransport, sampleTransportPairs } from '../src/diagnostics/transport.ts';
import { transportThreads } from '../src/diagnostics/transport-pool.ts';
import { Rng } from '../src/util/random.ts';
import { formatDuration } from './cells.ts';

export interface DiagnosticsBenchSize {
  sequences: number;
  steps: number;
  hidden: number;
  input: number;
  /** Lag grid: `num` lags evenly from `min` to `max` (SPEC §10). */
  lags: { min: number; max: number; num: number };
  /** Exact-transport pairs timed on the host (the paper runs 64; the projection scales per pair). */
  transportPairs: number;
}

/** lwin's everyday bench size. */
export const DIAGNOSTICS_BENCH_SIZE: DiagnosticsBenchSize = { sequences: 64, steps: 256, hidden: 64, input: 16, lags: { min: 4, max: 128, num: 32 }, transportPairs: 2 };
/** The paper's diagnostic stage (SPEC §10). */
export const PAPER_DIAGNOSTICS = { sequences: 8000, steps: 1024, hidden: 128, lags: 128, maxLag: 256, transportPairs: 64 };

export interface DiagnosticsBenchResult {
  cell: CellKind;
  size: DiagnosticsBenchSize;
  seconds: number;
  sequenceLagsPerSecond: number;
  batch: number;
  peakBytes: number;
  /** GPU ms of the window kernels (envelope, ψ) and of the rest (forward, tangent, ρ). */
  windowMs: number;
  recurrentMs: number;
  transportSecondsPerPair: number;
  /** Worker threads the stage gives the transport on this host (the projection divides the 64 pairs among them). */
  transportThreads?: number;
  projectedPaperDiagnosticsSeconds: number;
  profile: ProfileReport;
}

async function benchCell(ctx: GpuContext, cell: CellKind, size: DiagnosticsBenchSize): Promise<DiagnosticsBenchResult> {
  const lags = lagGrid(size.lags.min, size.lags.max, size.lags.num);
  const maxLag = Math.max(...lags);
  const taskLags = [8, 32].filter((l) => l < size.steps);
  const task = new MultiLagTask({ steps: size.steps, inputSize: size.input, lags: taskLags, coeffs: [0.6, 0.4].slice(0, taskLags.length), noiseStd: 0.3, seed: 1 });
  const data = task.diagnosticSet(size.sequences);
  const layout = buildLayout({ cell, inputSize: size.input, hiddenSize: size.hidden, layernorm: cellLayerNorm(cell, true) });
  const params = Float32Array.from(initParams(layout, { seed: 1 }));
  const eta = new Float64Array(layout.trainableSize).fill(1e-3);
  const options = { lags, firstOrder: true, wSeed: 212, seed: 1, transportSamples: 0, preconditioner: eta };
  await runDiagnostics(ctx, layout, params, { ...data, count: 1, x: data.x.subarray(0, size.steps * size.input), y: data.y.subarray(0, size.steps) }, options); // compile
  ctx.profiler!.reset();
  const d = await runDiagnostics(ctx, layout, params, data, options);
  const report = ctx.profiler!.report();
  const L = lags.length;
  const windowMs = report.kernels.filter((k) => k.name.startsWith('window_')).reduce((s, k) => s + k.totalMs, 0);
  const recurrentMs = report.totalMs - windowMs;
  const t0 = performance.now();
  const pairs = sampleTransportPairs(size.transportPairs, data.count, size.steps, maxLag, new Rng(1));
  exactTransport(layout, params, data.x, size.steps, pairs, lags);
  const perPair = (performance.now() - t0) / 1000 / pairs.length;
  const P = PAPER_DIAGNOSTICS;
  const n = P.sequences / size.sequences;
  // The stage runs the transport on worker threads beside the GPU's batches (src/diagnostics/transport-pool.ts):
  // the longer of the two bounds it.
  const threads = Math.max(1, await transportThreads(P.transportPairs));
  const gpuSeconds =
    (windowMs / 1000) * n * (P.steps / size.steps) * (P.hidden / size.hidden) * (P.lags / L) +
    (recurrentMs / 1000) * n * (P.steps / size.steps) * (P.hidden / size.hidden) ** 2;
  const transportSeconds = (perPair * Math.ceil(P.transportPairs / threads)) * (P.hidden / size.hidden) ** 3 * (P.maxLag / maxLag);
  const projected = Math.max(gpuSeconds, transportSeconds);
  const rate = (size.sequences * L) / d.seconds;
  console.log(
    `${cell.padEnd(6)} N=${size.sequences} T=${size.steps} H=${size.hidden} L=${L}: ${rate.toFixed(0)} sequence-lags/s, ` +
      `${d.seconds.toFixed(2)} s, batch ${d.memory.batch}, peak GPU memory ${formatBytes(d.memory.peakBytes)}; ` +
      `exact transport ${perPair.toFixed(2)} s per pair (host, one thread)`,
  );
  console.log(
    `       projected paper diagnostic stage (N=8000, T=1024, H=128, 128 lags, 64 transport pairs): ${formatDuration(projected)} ` +
      `(GPU ${formatDuration(gpuSeconds)}; transport ${formatDuration(transportSeconds)} on ${threads} worker thread${threads === 1 ? '' : 's'} beside it)`,
  );
  console.log(formatProfile(report));
  console.log();
  return {
    cell, size, seconds: d.seconds, sequenceLagsPerSecond: rate, batch: d.memory.batch, peakBytes: d.memory.peakBytes,
    windowMs, recurrentMs, transportSecondsPerPair: perPair, transportThreads: threads, projectedPaperDiagnosticsSeconds: projected, profile: report,
  };
}

/** Every cell at one size; `onResult` sees each result as it comes (the kit saves partial results). */
export async function benchDiagnostics(
  ctx: GpuContext, size: DiagnosticsBenchSize = DIAGNOSTICS_BENCH_SIZE, cells: readonly CellKind[] = OWN_CELL_KINDS,
  onResult: (result: DiagnosticsBenchResult) => void | Promise<void> = () => {},
): Promise<DiagnosticsBenchResult[]> {
  const results: DiagnosticsBenchResult[] = [];
  for (const cell of cells) {
    const result = await benchCell(ctx, cell, size);
    results.push(result);
    await onResult(result);
  }
  return results;
}
