// The diagnostic stage (μ windows, envelopes, ρ, ψ) per cell: sequence-lags per second, peak GPU memory, the
// per-kernel profile, and the projected wall time at the paper's diagnostic size (N=8000, T=1024, H=128, 128 lags).
// Projection: window kernels scale with N·T·H·L, recurrent ones (forward, tangent, ρ) with N·T·H², exact transport
// (64 pairs, host) with H³·ℓ_max; each part is scaled from what this run measured.
import type { GpuContext } from '../src/gpu/index.ts';
import { formatBytes, formatProfile } from '../src/gpu/index.ts';
import { buildLayout, cellLayerNorm, initParams, CELL_KINDS, type CellKind } from '../src/model/index.ts';
import { MultiLagTask } from '../src/data/task.ts';
import { lagGrid } from '../src/diagnostics/lags.ts';
import { runDiagnostics } from '../src/diagnostics/stage.ts';
import { exactTransport, sampleTransportPairs } from '../src/diagnostics/transport.ts';
import { Rng } from '../src/util/random.ts';
import { formatDuration } from './cells.ts';

const SIZE = { sequences: 64, steps: 256, hidden: 64, input: 16, lags: lagGrid(4, 128, 32) };
const PAPER = { sequences: 8000, steps: 1024, hidden: 128, lags: 128, maxLag: 256, transportPairs: 64 };

async function benchCell(ctx: GpuContext, cell: CellKind): Promise<void> {
  const task = new MultiLagTask({ steps: SIZE.steps, inputSize: SIZE.input, lags: [8, 32], coeffs: [0.6, 0.4], noiseStd: 0.3, seed: 1 });
  const data = task.diagnosticSet(SIZE.sequences);
  const layout = buildLayout({ cell, inputSize: SIZE.input, hiddenSize: SIZE.hidden, layernorm: cellLayerNorm(cell, true) });
  const params = Float32Array.from(initParams(layout, { seed: 1 }));
  const eta = new Float64Array(layout.trainableSize).fill(1e-3);
  const options = { lags: SIZE.lags, firstOrder: true, wSeed: 212, seed: 1, transportSamples: 0, preconditioner: eta };
  await runDiagnostics(ctx, layout, params, { ...data, count: 1, x: data.x.subarray(0, SIZE.steps * SIZE.input), y: data.y.subarray(0, SIZE.steps) }, options); // compile
  ctx.profiler!.reset();
  const d = await runDiagnostics(ctx, layout, params, data, options);
  const report = ctx.profiler!.report();
  const L = SIZE.lags.length;
  const windowMs = report.kernels.filter((k) => k.name.startsWith('window_')).reduce((s, k) => s + k.totalMs, 0);
  const recurrentMs = report.totalMs - windowMs;
  const t0 = performance.now();
  const pairs = sampleTransportPairs(2, data.count, SIZE.steps, Math.max(...SIZE.lags), new Rng(1));
  exactTransport(layout, params, data.x, SIZE.steps, pairs, SIZE.lags);
  const perPair = (performance.now() - t0) / 1000 / pairs.length;
  const n = PAPER.sequences / SIZE.sequences;
  const projected =
    (windowMs / 1000) * n * (PAPER.steps / SIZE.steps) * (PAPER.hidden / SIZE.hidden) * (PAPER.lags / L) +
    (recurrentMs / 1000) * n * (PAPER.steps / SIZE.steps) * (PAPER.hidden / SIZE.hidden) ** 2 +
    perPair * PAPER.transportPairs * (PAPER.hidden / SIZE.hidden) ** 3 * (PAPER.maxLag / Math.max(...SIZE.lags));
  console.log(
    `${cell.padEnd(6)} N=${SIZE.sequences} T=${SIZE.steps} H=${SIZE.hidden} L=${L}: ${((SIZE.sequences * L) / d.seconds).toFixed(0)} sequence-lags/s, ` +
      `${d.seconds.toFixed(2)} s, batch ${d.memory.batch}, peak GPU memory ${formatBytes(d.memory.peakBytes)}; ` +
      `exact transport ${perPair.toFixed(2)} s per pair (host)`,
  );
  console.log(`       projected paper diagnostic stage (N=8000, T=1024, H=128, 128 lags, 64 transport pairs): ${formatDuration(projected)}`);
  console.log(formatProfile(report));
  console.log();
}

export async function benchDiagnostics(ctx: GpuContext): Promise<void> {
  for (const cell of CELL_KINDS) await benchCell(ctx, cell);
}
