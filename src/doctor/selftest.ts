// The matmul and the segmented reduction against their float64 twins: the registry's first entries
// (src/doctor/registry.ts), and the check the Deno smoke script, the browser page and the runtime tests share.
import type { GpuContext } from '../gpu/context.ts';
import { recordMatmul, type MatmulShape, type MatmulVariant } from '../kernels/matmul.ts';
import { planSegmentedReduce, recordSegmentedReduce } from '../kernels/reduce.ts';
import { matmulReference } from '../reference/matmul.ts';
import { segmentedReduceReference } from '../reference/reduce.ts';
import { F32_UNIT_ROUNDOFF as U, compareToReference } from '../reference/compare.ts';
import type { KernelCheck } from './checks.ts';
import { Rng } from '../util/random.ts';
import type { SequenceData } from '../data/dataset.ts';
import { gatherBatch } from '../data/batches.ts';
import { ResidentSet } from '../train/resident.ts';

/**
 * f32 dot products of length k err by at most γ_k·Σ|a||b| with γ_k = k·u/(1 - k·u), whatever the summation
 * order and whether or not fma is used (Higham, Accuracy and Stability, Thm 3.1); one more rounding for the bias
 * and one for the store. Inputs are exact f32 values on both sides, so this is the whole error.
 */
export function matmulTolerance(k: number, magnitude: number): number {
  const gamma = ((k + 2) * U) / (1 - (k + 2) * U);
  return gamma * magnitude + Number.MIN_VALUE;
}

/**
 * Error bound of the compensated reduction in shaders/reduce.ts. Every pass keeps each partial sum as an
 * unevaluated pair (hi, lo) whose only errors are roundings of lo-terms, each O(u²) of the magnitudes involved.
 * A value meets, per pass, its thread's chain of sequential adds and then the tree's levels (planSegmentedReduce
 * says how many); bounding the growth of lo quadratically in that depth gives Σ_passes depth²·u²·Σ|x|. Storing
 * hi + lo rounds once (u|S|), the mean's division once more: 3u|S| + Σ depth²·u²·Σ|x| in all, far below a plain
 * f32 sum's error of up to (n-1)·u·Σ|x|.
 */
export function compensatedSumTolerance(n: number, sum: number, absSum: number): number {
  const quadratic = planSegmentedReduce(n).reduce((q, pass) => q + (pass.chain + pass.levels) ** 2, 0);
  return 3 * U * Math.abs(sum) + quadratic * U * U * absSum + Number.MIN_VALUE;
}

export type { KernelCheck };

/** Inputs for a matmul check, exact f32 values from a seeded stream. */
export function matmulInputs(shape: MatmulShape, seed: number, withBias: boolean) {
  const rng = new Rng(seed);
  const a = rng.fillUniform(new Float32Array(shape.batch * shape.m * shape.k), -1, 1) as Float32Array;
  const b = rng.fillUniform(new Float32Array(shape.k * shape.n), -1, 1) as Float32Array;
  const bias = withBias ? (rng.fillUniform(new Float32Array(shape.n), -1, 1) as Float32Array) : undefined;
  return { a, b, bias };
}

export async function checkMatmul(ctx: GpuContext, shape: MatmulShape, variant: MatmulVariant, seed = 1): Promise<KernelCheck> {
  const { a, b, bias } = matmulInputs(shape, seed, variant.bias);
  const buffers = {
    a: ctx.upload('check/a', a),
    b: ctx.upload('check/b', b),
    bias: bias ? ctx.upload('check/bias', bias) : undefined,
    c: ctx.storage('check/c', shape.batch * shape.m * shape.n * 4),
  };
  try {
    const step = ctx.step('check matmul');
    recordMatmul(step, shape, buffers, variant);
    const result = step.readF32(buffers.c);
    await step.submit();
    const values = await result;
    const ref = matmulReference(shape, a, b, { transposeB: variant.transposeB, bias });
    const comparison = compareToReference(values, ref.c, (i) => matmulTolerance(shape.k, ref.magnitude[i]!));
    const shapeText = `B=${shape.batch} M=${shape.m} K=${shape.k} N=${shape.n} ${variant.strategy}${variant.transposeB ? ' Bᵀ' : ''}${variant.bias ? ' +bias' : ''}`;
    return { kernel: 'matmul', shape: shapeText, comparison, values };
  } finally {
    for (const buf of Object.values(buffers)) buf?.destroy();
  }
}

export async function checkSegmentedReduce(ctx: GpuContext, x: Float32Array, segments: number, length: number): Promise<{ sums: KernelCheck; means: KernelCheck }> {
  const input = ctx.upload('check/x', x);
  const out = { sums: ctx.storage('check/sums', segments * 4), means: ctx.storage('check/means', segments * 4) };
  try {
    const step = ctx.step('check segmented_reduce');
    recordSegmentedReduce(step, input, segments, length, out);
    const sumsP = step.readF32(out.sums);
    const meansP = step.readF32(out.means);
    await step.submit();
    const [sums, means] = [await sumsP, await meansP];
    const ref = segmentedReduceReference(x, segments, length);
    const shape = `segments=${segments} length=${length}`;
    const tolSum = (i: number) => compensatedSumTolerance(length, ref.sums[i]!, ref.absSums[i]!);
    return {
      sums: { kernel: 'segmented_reduce/sum', shape, values: sums, comparison: compareToReference(sums, ref.sums, tolSum) },
      means: { kernel: 'segmented_reduce/mean', shape, values: means, comparison: compareToReference(means, ref.means, (i) => tolSum(i) / length) },
    };
  } finally {
    input.destroy();
    out.sums.destroy();
    out.means.destroy();
  }
}

/**
 * Data on which a plain f32 sum fails the compensated tolerance: large values that cancel, with small ones
 * between them, so the exact sum is tiny against Σ|x|.
 */
export function cancellingData(segments: number, length: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(segments * length);
  for (let s = 0; s < segments; s++) {
    for (let i = 0; i < length; i++) {
      const big = (i % 4 === 0 ? 1 : i % 4 === 2 ? -1 : 0) * 2 ** 20 * (1 + rng.uniform());
      x[s * length + i] = big !== 0 ? big : rng.uniform() - 0.25;
    }
    // Pair each big value with its exact negative so the big ones cancel exactly in real arithmetic.
    for (let i = 2; i < length; i += 4) x[s * length + i] = -x[s * length + i - 2]!;
  }
  return x;
}

/**
 * The device-side gather of a resident training set (src/train/resident.ts) against gatherBatch on the host, exact:
 * 7 sequences (T=3, D=2, two targets a step) held in parts of 3, a batch that takes one sequence twice.
 */
export async function checkGatherRows(ctx: GpuContext): Promise<KernelCheck> {
  const [N, T, D, K] = [7, 3, 2, 2];
  const rng = new Rng(71);
  const data: SequenceData = {
    x: Float32Array.from({ length: N * T * D }, () => rng.normal()), y: Float32Array.from({ length: N * T * K }, () => rng.normal()),
    count: N, steps: T, inputSize: D, source: 'doctor data',
  };
  const indices = Uint32Array.from([6, 0, 3, 3, 5]);
  const set = new ResidentSet(ctx, data, indices.length, 3 * T * D * 4);
  const b = { x: ctx.storage('check/x', indices.length * T * D * 4), y: ctx.storage('check/y', indices.length * T * K * 4) };
  let got: Float32Array;
  try {
    const step = ctx.step('check gather');
    set.record(step, indices, b.x, b.y);
    const reads = [step.readF32(b.x), step.readF32(b.y)];
    await step.submit();
    const [x, y] = await Promise.all(reads);
    got = Float32Array.from([...x!, ...y!]);
  } finally {
    set.destroy();
    for (const buf of Object.values(b)) buf.destroy();
  }
  const want = gatherBatch(data, indices);
  return {
    kernel: 'gather_rows', shape: `${indices.length} of ${N} sequences, T=${T} D=${D}, K=${K}, parts of 3`, values: got,
    comparison: compareToReference(got, Float64Array.from([...want.x, ...want.y]), () => 0),
  };
}
