// Kernel throughput: matmul and the segmented reduction at bench sizes, then every family of the kernel registry
// (src/doctor/registry.ts) at its check's tiny size. Figures come from timestamp queries (GPU time); wall time
// per call is printed beside the matmul's to show overhead.
import { GpuContext, formatProfile } from '../src/gpu/index.ts';
import { recordMatmul, type MatmulShape, type MatmulVariant } from '../src/kernels/matmul.ts';
import { recordSegmentedReduce } from '../src/kernels/reduce.ts';
import { matmulInputs } from '../src/doctor/selftest.ts';
import { Rng } from '../src/util/random.ts';
import { CheckCache, KERNEL_FAMILIES, familyOf, type KernelFamily } from '../src/doctor/registry.ts';

export const REPEATS = Number(process.env.LWIN_BENCH_REPEATS ?? 5);

export interface KernelBenchResult {
  kernel: string;
  shape: string;
  gpuMsPerCall: number;
  /** GFLOP/s for the matmul (the adapter's calibration), GB/s read for the reduction, dispatches/s for a family. */
  rate: number;
  unit: 'GFLOP/s' | 'GB/s' | 'dispatches/s';
}

async function benchMatmul(ctx: GpuContext, shape: MatmulShape, variant: MatmulVariant, repeats = REPEATS, quiet = false): Promise<KernelBenchResult> {
  const { a, b, bias } = matmulInputs(shape, 1, variant.bias);
  const bufs = {
    a: ctx.upload('bench/a', a),
    b: ctx.upload('bench/b', b),
    bias: bias ? ctx.upload('bench/bias', bias) : undefined,
    c: ctx.storage('bench/c', shape.batch * shape.m * shape.n * 4),
  };
  // Warm-up compiles the pipeline and lets the driver JIT it.
  const warm = ctx.step('warm');
  recordMatmul(warm, shape, bufs, variant);
  await warm.submit();
  ctx.profiler!.reset();
  const t0 = performance.now();
  const step = ctx.step('bench matmul');
  for (let i = 0; i < repeats; i++) recordMatmul(step, shape, bufs, variant);
  await step.submit();
  const wallMs = performance.now() - t0;
  const report = ctx.profiler!.report();
  const gpuMs = report.totalMs / repeats;
  const flops = 2 * shape.batch * shape.m * shape.k * shape.n;
  if (!quiet) {
    console.log(
      `matmul ${variant.strategy.padEnd(6)} B=${shape.batch} M=${shape.m} K=${shape.k} N=${shape.n}: ` +
        `${gpuMs.toFixed(3)} ms GPU per call, ${(flops / gpuMs / 1e6).toFixed(2)} GFLOP/s; wall ${(wallMs / repeats).toFixed(3)} ms per call`,
    );
    console.log(formatProfile(report));
    console.log();
  }
  for (const buf of Object.values(bufs)) buf?.destroy();
  const shapeText = `B=${shape.batch} M=${shape.m} K=${shape.k} N=${shape.n}`;
  return { kernel: `matmul ${variant.strategy}`, shape: shapeText, gpuMsPerCall: gpuMs, rate: flops / gpuMs / 1e6, unit: 'GFLOP/s' };
}

async function benchReduce(ctx: GpuContext, segments: number, length: number): Promise<KernelBenchResult> {
  const rng = new Rng(2);
  const x = ctx.upload('bench/x', Float32Array.from({ length: segments * length }, () => rng.normal()));
  const out = { sums: ctx.storage('bench/sums', segments * 4), means: ctx.storage('bench/means', segments * 4) };
  const warm = ctx.step('warm');
  recordSegmentedReduce(warm, x, segments, length, out);
  await warm.submit();
  ctx.profiler!.reset();
  const step = ctx.step('bench reduce');
  for (let i = 0; i < REPEATS; i++) recordSegmentedReduce(step, x, segments, length, out);
  await step.submit();
  const report = ctx.profiler!.report();
  const gpuMs = report.totalMs / REPEATS;
  console.log(`segmented reduce ${segments}×${length}: ${gpuMs.toFixed(3)} ms GPU per call, ${((segments * length * 4) / gpuMs / 1e6).toFixed(2)} GB/s read`);
  console.log(formatProfile(report));
  console.log();
  x.destroy();
  out.sums.destroy();
  out.means.destroy();
  return { kernel: 'segmented reduce', shape: `${segments}×${length}`, gpuMsPerCall: gpuMs, rate: (segments * length * 4) / gpuMs / 1e6, unit: 'GB/s' };
}

/**
 * One registry family: its check (with its twin comparison) once to compile, then REPEATS times under the profiler;
 * the GPU time of the family's own dispatches per dispatch. Checks that cover several families run whole, and only
 * this family's kernels are counted.
 */
async function benchFamily(ctx: GpuContext, family: KernelFamily): Promise<KernelBenchResult> {
  const [first] = await family.check(ctx, new CheckCache());
  ctx.profiler!.reset();
  for (let i = 0; i < REPEATS; i++) await family.check(ctx, new CheckCache());
  const mine = ctx.profiler!.report().kernels.filter((k) => familyOf(k.name) === family);
  const calls = mine.reduce((n, k) => n + k.calls, 0);
  const gpuMs = mine.reduce((t, k) => t + k.totalMs, 0) / Math.max(1, calls);
  // Per-cell families ran one check per cell: name the size once, without the first cell's name.
  const shape = family.perCell ? `each cell, ${(first?.shape ?? '').replace(/^\w+( \+ln)? /, '')}` : first?.shape ?? '';
  console.log(`${family.family.padEnd(19)} ${calls / REPEATS} dispatches per check, ${gpuMs.toFixed(3)} ms GPU per dispatch (${shape})`);
  return { kernel: family.family, shape, gpuMsPerCall: gpuMs, rate: gpuMs > 0 ? 1000 / gpuMs : 0, unit: 'dispatches/s' };
}

/**
 * The matmul (both strategies) and the segmented reduction at bench sizes (`scale` < 1 shrinks them: the kit's
 * tiny run), then one record per registry family at its check's size.
 */
/** The kernel bench's matmul shape at `scale`. */
function matmulShape(scale: number): MatmulShape {
  const side = Math.max(8, Math.round(128 * scale));
  return { batch: Math.max(1, Math.round(256 * scale)), m: side, k: side, n: side };
}

/**
 * A calibration to take beside each cell (bench/cells.ts): the GFLOP/s of the kernel bench's faster matmul
 * (`kernels`' results) over CALIBRATION_REPEATS calls, printed nowhere. On a shared machine the adapter's speed
 * drifts within a run (lavapipe's matmul read 4.2–8.0 GFLOP/s across runs), so a kernel's share of the matmul rate
 * measured minutes apart moves with the load; measured around the kernel, with it less.
 */
export function matmulCalibration(ctx: GpuContext, kernels: readonly KernelBenchResult[], scale = 1): (() => Promise<number>) | undefined {
  const matmuls = kernels.filter((k) => k.unit === 'GFLOP/s');
  if (!matmuls.length) return undefined;
  const best = matmuls.reduce((a, b) => (b.rate > a.rate ? b : a));
  const strategy = best.kernel.endsWith('tiled') ? 'tiled' : 'direct';
  return async () => (await benchMatmul(ctx, matmulShape(scale), { strategy, transposeB: true, bias: true }, CALIBRATION_REPEATS, true)).rate;
}

const CALIBRATION_REPEATS = 3;

export async function benchKernels(ctx: GpuContext, scale = 1): Promise<KernelBenchResult[]> {
  const shape = matmulShape(scale);
  const results: KernelBenchResult[] = [];
  for (const strategy of ['tiled', 'direct'] as const) results.push(await benchMatmul(ctx, shape, { strategy, transposeB: true, bias: true }));
  results.push(await benchReduce(ctx, 64, Math.max(64, Math.round((1 << 18) * scale))));
  results.push(await benchReduce(ctx, Math.max(64, Math.round((1 << 16) * scale)), 64));
  for (const family of KERNEL_FAMILIES) results.push(await benchFamily(ctx, family));
  return results;
}
