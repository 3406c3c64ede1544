// Forward + backward (BPTT) throughput and peak GPU memory per cell, with the per-kernel profile.
// Overhead = wall time of an unprofiled call minus the GPU time the kernels account for, as a share of the wall
// time: dispatch, submit, readback and (on a software adapter) scheduling that is not arithmetic.
import type { GpuContext } from '../src/gpu/index.ts';
import { formatBytes, formatProfile } from '../src/gpu/index.ts';
import { buildLayout, initParams, CELL_KINDS, type CellKind } from '../src/model/index.ts';
import { recordBatchGradient } from '../src/cells/backward.ts';
import { Rng } from '../src/util/random.ts';

export interface CellBenchSize {
  batch: number;
  steps: number;
  hidden: number;
  input: number;
}

async function benchCell(ctx: GpuContext, cell: CellKind, size: CellBenchSize, repeats: number): Promise<void> {
  const { batch: B, steps: T, hidden: H, input: D } = size;
  const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: true });
  const rng = new Rng(1);
  const before = ctx.memory.live;
  ctx.memory.resetPeak();
  const b = {
    params: ctx.upload('bench/P', Float32Array.from(initParams(layout, { seed: 1 }))),
    x: ctx.upload('bench/x', Float32Array.from({ length: B * T * D }, () => rng.normal())),
    y: ctx.upload('bench/y', Float32Array.from({ length: B * T }, () => rng.normal())),
    yhat: ctx.storage('bench/yhat', B * T * 4), grad: ctx.storage('bench/grad', layout.totalSize * 4), loss: ctx.storage('bench/loss', 4),
  };
  const run = async () => {
    const step = ctx.step(`bench ${cell}`);
    recordBatchGradient(step, { layout, ...b, batch: B, steps: T });
    const loss = step.readF32(b.loss);
    await step.submit();
    return loss;
  };
  const profiler = ctx.profiler!;
  await run(); // warm-up: pipelines compile
  profiler.reset();
  for (let i = 0; i < repeats; i++) await run();
  const report = profiler.report();
  const gpuMs = report.totalMs / repeats;
  // Unprofiled wall time needs a context without per-dispatch timestamp passes: time the same calls with profiling
  // counted separately is not possible on one context, so the wall figure here includes the profiling passes.
  const t0 = performance.now();
  for (let i = 0; i < repeats; i++) await run();
  const wallMs = (performance.now() - t0) / repeats;
  const rate = (B * T) / (wallMs / 1000);
  console.log(
    `${cell.padEnd(6)} B=${B} T=${T} H=${H} D=${D}: ${(rate / 1e3).toFixed(1)}k sequence-steps/s forward+backward, ` +
      `${wallMs.toFixed(1)} ms per batch (GPU ${gpuMs.toFixed(1)} ms, overhead ${(100 * Math.max(0, 1 - gpuMs / wallMs)).toFixed(1)}%), ` +
      `peak GPU memory ${formatBytes(ctx.memory.peak - before)}`,
  );
  console.log(formatProfile(report));
  console.log();
  for (const buf of Object.values(b)) buf.destroy();
}

export async function benchCells(ctx: GpuContext, sizes: CellBenchSize[], repeats: number): Promise<void> {
  for (const size of sizes) for (const cell of CELL_KINDS) await benchCell(ctx, cell, size, repeats);
}
