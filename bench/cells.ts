// Training-step throughput per cell (forward, backward, optimizer phases), peak GPU memory, the per-kernel profile,
// and the projected wall time of the paper's training run (750 epochs × 8000 sequences) on this adapter.
// Overhead = wall time of an unprofiled call minus the GPU time the kernels account for, as a share of the wall
// time: dispatch, submit, readback and (on a software adapter) scheduling that is not arithmetic.
import { GpuContext, formatBytes, formatProfile } from '../src/gpu/index.ts';
import { buildLayout, cellLayerNorm, initParams, type CellKind, type ParamLayout } from '../src/model/index.ts';
import { OWN_CELL_KINDS, isTorchCell } from '../src/model/cells.ts';
import { recordBatchGradient } from '../src/cells/backward.ts';
import { GpuOptimizer } from '../src/train/optim/index.ts';
import type { ProfileReport } from '../src/gpu/profiler.ts';
import { Rng } from '../src/util/random.ts';
import { describeTimings, ensureTile } from '../src/cells/autotune.ts';
import { tileFor } from '../src/cells/tiles.ts';
import { tileKey } from '../shaders/cells/tile.ts';
import { helperCalls } from '../shaders/cells/held-weights.ts';
import { FORWARD_STEPS, stepContext } from '../shaders/recurrence/forward.ts';
import { BACKWARD_STEPS } from '../shaders/recurrence/backward.ts';
import { envSetting } from '../src/gpu/runtime.ts';

/** The paper's training run (SPEC §10): 750 epochs of 8000 sequences, T = 1024, H = 128. */
export const PAPER_TRAINING = { epochs: 750, sequences: 8000, steps: 1024, hidden: 128, batch: 512 };

export interface CellBenchSize {
  batch: number;
  steps: number;
  hidden: number;
  input: number;
  /** Stacked layers of PyTorch's cells (SPEC §13; `--layers`); absent or 1: one layer. lwin's own cells stay single. */
  layers?: number;
}

/** What one cell's training-step bench measured (also the GPU kit's JSON). */
export interface CellBenchResult {
  cell: CellKind;
  size: CellBenchSize;
  /** Wall time of one training step (forward, BPTT, AdamW) on a batch. */
  wallMsPerBatch: number;
  /** GPU time of the same step, from the profiler. */
  gpuMsPerBatch: number;
  sequenceStepsPerSecond: number;
  /** Host milliseconds per unprofiled batch: recording the step, and encoding and queueing it. */
  hostMsPerBatch?: { record: number; queue: number };
  /** Share of the wall time the kernels do not account for. */
  overhead: number;
  /** GPU ms per batch of each phase. */
  phasesMs: { forward: number; backward: number; optimizer: number };
  peakBytes: number;
  /** The paper's training run on this adapter: direct at the paper size, scaled by (128/H)² from a smaller one. */
  projectedPaperTrainingSeconds: number;
  profile: ProfileReport;
  /** The recurrent kernels' thread tile (src/cells/autotune.ts). */
  tile: string;
  /** GFLOP/s of the forward and backward kernels' dot products (dotFlops), from their GPU time. */
  recurrentGflops?: { forward: number; backward: number };
  /** lwin's matmul GFLOP/s measured just before and just after the cell's profiled steps, their mean (a calibration beside the cell). */
  matmulGflopsAround?: number;
}

/**
 * FLOPs per sequence-step of the dot products a layer's forward and backward kernels do, from the helper calls of
 * the cell's step WGSL: 2·H·H per row_h or row_a, 2·H·D per row_x, 2·D per row_x0, 2·H·H per col_d (Uᵀ times a
 * block of adjoints). The replaying backward does only its own; recomputing (LWIN_REPLAY=off), the forward's too.
 * Elementwise work is not counted: these are the kernels' share of work a matmul could do.
 */
export function dotFlops(cell: CellKind, layernorm: boolean, H: number, D: number): { forward: number; backward: number } {
  const c = stepContext(cell, layernorm);
  const per: Record<string, number> = { row_h: 2 * H * H, row_a: 2 * H * H, row_x: 2 * H * D, row_x0: 2 * D, col_d: 2 * H * H };
  const count = (wgsl: string) => helperCalls(wgsl, Object.keys(per)).reduce((n, call) => n + per[call.name]!, 0);
  const forward = count(FORWARD_STEPS[cell](c));
  const own = count(BACKWARD_STEPS[cell](c));
  return { forward, backward: envSetting('LWIN_REPLAY') === 'off' ? own + forward : own };
}

async function benchCell(ctx: GpuContext, cell: CellKind, size: CellBenchSize, repeats: number, matmulGflops?: number, calibrate?: () => Promise<number>): Promise<CellBenchResult> {
  const { batch: B, steps: T, hidden: H, input: D } = size;
  const layers = isTorchCell(cell) ? (size.layers ?? 1) : 1;
  const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true), ...(layers > 1 && { layers }) });
  // The tile training would use: autotuned (or cached, or LWIN_TILE); the default without a cache.
  const choice = await ensureTile(ctx, { cell, layernorm: layout.config.layernorm, hidden: H, input: D, batch: B });
  const tile = tileKey(tileFor(ctx.device, cell, layout.config.layernorm, H, D));
  const before = ctx.memory.live;
  ctx.memory.resetPeak();
  const b = stepBuffers(ctx, layout, B, T, 'bench');
  const optimizer = new GpuOptimizer(ctx, layout, { name: 'adamw', lr: 1e-3, weightDecay: 1e-4, clip: 1 });
  // The wall time comes from a context without the profiler: per-dispatch timestamp passes and their readback
  // would otherwise count as overhead.
  const plain = new GpuContext(ctx.device, { adapter: ctx.options.adapter });
  // Host time per unprofiled batch: recording the step, then encoding and queueing it (until Step.queued); the rest
  // of the wall is the device's and the driver's (kernels, clears, allocation, completion).
  const host = { recordMs: 0, queueMs: 0 };
  const run = async (on: GpuContext = ctx) => {
    const t0 = performance.now();
    const step = on.step(`bench ${cell}`);
    recordBatchGradient(step, { layout, ...b, batch: B, steps: T });
    optimizer.record(step, b.params, b.grad);
    const loss = step.readF32(b.loss);
    const t1 = performance.now();
    const done = step.submit();
    await step.queued;
    host.recordMs += t1 - t0;
    host.queueMs += performance.now() - t1;
    await done;
    return loss;
  };
  const profiler = ctx.profiler!;
  await run(); // warm-up: pipelines compile
  const calibrationBefore = await calibrate?.();
  profiler.reset();
  for (let i = 0; i < repeats; i++) await run();
  const report = profiler.report();
  const calibrationAfter = await calibrate?.();
  const matmulGflopsAround = calibrationBefore !== undefined && calibrationAfter !== undefined ? (calibrationBefore + calibrationAfter) / 2 : undefined;
  const gpuMs = report.totalMs / repeats;
  ctx.releaseIdle(); // the profiled runs' scratch: the peak is one step's, not one per context
  await run(plain); // warm-up of the unprofiled pipelines' first submit
  host.recordMs = host.queueMs = 0;
  const t0 = performance.now();
  for (let i = 0; i < repeats; i++) await run(plain);
  const wallMs = (performance.now() - t0) / repeats;
  const rate = (B * T) / (wallMs / 1000);
  const hostMs = { record: host.recordMs / repeats, queue: host.queueMs / repeats };
  const phases = phaseTimes(report, repeats);
  const peakBytes = ctx.memory.peak - before;
  console.log(
    `${cell.padEnd(6)} B=${B} T=${T} H=${H} D=${D}${layers > 1 ? ` L=${layers}` : ''}: ${(rate / 1e3).toFixed(1)}k sequence-steps/s per training step, ` +
      `${wallMs.toFixed(1)} ms per batch (GPU ${gpuMs.toFixed(1)} ms, overhead ${(100 * Math.max(0, 1 - gpuMs / wallMs)).toFixed(1)}%), ` +
      `peak GPU memory ${formatBytes(peakBytes)}, tile ${tile} (${choice?.source ?? 'default'}${choice?.timings ? `: ${describeTimings(choice)}` : ''})`,
  );
  console.log(`       host per batch: recording ${hostMs.record.toFixed(2)} ms, encoding and queueing ${hostMs.queue.toFixed(2)} ms; the rest of the wall is the device's`);
  console.log(
    `       sequences/s by phase: forward ${(B / (phases.forward / 1000)).toFixed(0)}, backward ${(B / (phases.backward / 1000)).toFixed(0)}, ` +
      `optimizer ${(B / (phases.optimizer / 1000)).toFixed(0)}`,
  );
  // Paper run: 750 epochs × 8000 sequences of T=1024 at H=128. Measured at the paper size this is direct; from a
  // smaller size it scales the cost per sequence-step by (H_paper/H)² (the recurrent products dominate).
  const perSequenceStep = wallMs / 1000 / (B * T);
  const { epochs, sequences, steps, hidden } = PAPER_TRAINING;
  const projected = perSequenceStep * (hidden / H) ** 2 * epochs * sequences * steps;
  console.log(`       projected paper training (750 epochs × 8000 sequences, T=1024, H=128): ${formatDuration(projected)}${H === hidden && T === steps ? '' : ' (scaled from this size)'}`);
  // Each layer's dot products per sequence-step (a stack's upper layers read D = H), against the kernels' GPU time.
  const flops = Array.from({ length: layers }, (_, l) => dotFlops(cell, layout.config.layernorm, H, l === 0 ? D : H));
  const kernelMs = (prefix: string) => report.kernels.filter((k) => k.name.startsWith(prefix)).reduce((s, k) => s + k.totalMs, 0);
  const gflops = (perStep: number, ms: number) => (perStep * B * T * repeats) / (ms * 1e6);
  const recurrentGflops = {
    forward: gflops(flops.reduce((s, f) => s + f.forward, 0), kernelMs('forward_')),
    backward: gflops(flops.reduce((s, f) => s + f.backward, 0), kernelMs('backward_')),
  };
  const reference = matmulGflopsAround ?? matmulGflops;
  const share = (g: number) => (reference ? ` (${((100 * g) / reference).toFixed(0)}%)` : '');
  const against = matmulGflopsAround
    ? ` (% of lwin's matmul measured around this cell, ${matmulGflopsAround.toFixed(2)} GFLOP/s: ${calibrationBefore!.toFixed(2)} before, ${calibrationAfter!.toFixed(2)} after)`
    : matmulGflops
      ? ` (% of lwin's best matmul in this run, ${matmulGflops.toFixed(2)} GFLOP/s)`
      : '';
  console.log(
    `       recurrent kernels' dot products: forward ${recurrentGflops.forward.toFixed(2)}${share(recurrentGflops.forward)}, backward ${recurrentGflops.backward.toFixed(2)}${share(recurrentGflops.backward)} GFLOP/s${against}`,
  );
  console.log(formatProfile(report));
  console.log();
  optimizer.destroy();
  plain.destroy();
  ctx.releaseIdle();
  for (const buf of Object.values(b)) buf.destroy();
  return {
    cell, size, wallMsPerBatch: wallMs, gpuMsPerBatch: gpuMs, hostMsPerBatch: hostMs, sequenceStepsPerSecond: rate, overhead: Math.max(0, 1 - gpuMs / wallMs),
    phasesMs: phases, peakBytes, projectedPaperTrainingSeconds: projected, profile: report, tile, recurrentGflops,
    ...(matmulGflopsAround !== undefined && { matmulGflopsAround }),
  };
}

/**
 * A training step's buffers for the benches: the initial parameters (seed 1), Gaussian inputs and targets (seed 1),
 * and ŷ, the gradient and the loss; `prefix` labels them.
 */
export function stepBuffers(ctx: GpuContext, layout: ParamLayout, B: number, T: number, prefix: string) {
  const rng = new Rng(1);
  const D = layout.config.inputSize;
  return {
    params: ctx.upload(`${prefix}/P`, Float32Array.from(initParams(layout, { seed: 1 }))),
    x: ctx.upload(`${prefix}/x`, Float32Array.from({ length: B * T * D }, () => rng.normal())),
    y: ctx.upload(`${prefix}/y`, Float32Array.from({ length: B * T }, () => rng.normal())),
    yhat: ctx.storage(`${prefix}/yhat`, B * T * 4), grad: ctx.storage(`${prefix}/grad`, layout.totalSize * 4), loss: ctx.storage(`${prefix}/loss`, 4),
  };
}

/**
 * Every cell at every size; `onResult` sees each result as it comes (the kit saves partial results). With
 * `matmulGflops` (lwin's best matmul, measured in the same run), the recurrent kernels' rates are also given as its
 * share; with `calibrate` (bench/kernels.ts matmulCalibration), as the share of the matmul rate measured just before
 * and after each cell's profiled steps.
 */
export async function benchCells(
  ctx: GpuContext, sizes: CellBenchSize[], repeats: number, cells: readonly CellKind[] = OWN_CELL_KINDS,
  onResult: (result: CellBenchResult) => void | Promise<void> = () => {}, matmulGflops?: number, calibrate?: () => Promise<number>,
): Promise<CellBenchResult[]> {
  const results: CellBenchResult[] = [];
  for (const size of sizes) {
    for (const cell of cells) {
      const result = await benchCell(ctx, cell, size, repeats, matmulGflops, calibrate);
      results.push(result);
      await onResult(result);
    }
  }
  return results;
}

/** GPU ms per batch of each training phase, from kernel names (reductions belong to the gradient and the norm). */
function phaseTimes(report: ProfileReport, repeats: number): { forward: number; backward: number; optimizer: number } {
  const sum = (pick: (name: string) => boolean) => report.kernels.filter((k) => pick(k.name)).reduce((s, k) => s + k.totalMs, 0) / repeats;
  return {
    forward: sum((n) => n.startsWith('forward_') || n === 'mse_residual'),
    backward: sum((n) => n.startsWith('backward_') || n === 'weight_grad' || n === 'segmented_reduce'),
    optimizer: sum((n) => n.startsWith('optim_')),
  };
}

export function formatDuration(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(0)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(0)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}
