// GPU optimizers against their float64 twin (src/reference/optim.ts), step by step.
//
// Tolerance: every step is checked against the reference applied to the GPU's own previous f32 parameters and
// state (read back exactly), so errors do not accumulate and the bound is one step's. An f32 evaluation of a
// formula errs by at most (number of roundings on its longest chain) · u · (sum of |terms|); the reference
// returns that term magnitude per element (|p| plus the update's terms), so cancellation (g ≈ -wd·p, m ≈ 0) is
// covered. The longest chain is AdamW's: clip coefficient (≈4 roundings: Σg², √, +1e-6, ÷), g·coef, g², β2·v,
// +, √, ÷√bc2, +eps, m/denom, ·step size, p·(1 - lr·wd), −, and the f32 rounding of four uniforms: about 16.
// We allow 32 u (2^-19) of the magnitude.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { buildLayout, initParams } from '../../src/model/index.ts';
import { F32_UNIT_ROUNDOFF as u, compareToReference, describeComparison } from '../../src/reference/compare.ts';
import { referenceOptimizerStep, type ReferenceOptimizerState } from '../../src/reference/optim.ts';
import { GpuOptimizer, OPTIMIZER_NAMES, parseOptimizerName, type OptimizerConfig, type OptimizerName } from '../../src/train/optim/index.ts';
import { OptimParams } from '../../shaders/optim.ts';
import type { InferInput } from 'typegpu/data';
import { byteSizeOf, packStruct, wgslStruct } from '../../src/gpu/layout.ts';
import { Rng } from '../../src/util/random.ts';
import { GRAD_NORM_ROUNDINGS, optimTolerance } from '../../src/doctor/tolerances.ts';

const gpu = useGpu();
// const cell: a non-trainable s_const after the trainable prefix, padding inside it, > 256 elements (2 workgroups).
const LAYOUT = buildLayout({ cell: 'const', inputSize: 4, hiddenSize: 16, layernorm: true });
const P = LAYOUT.trainableSize;
const TRAINABLE = new Uint8Array(LAYOUT.totalSize);
for (const t of LAYOUT.tensors) if (t.trainable) TRAINABLE.fill(1, t.offset, t.offset + t.size);
const FROZEN = [...TRAINABLE.keys()].filter((i) => !TRAINABLE[i]); // padding and s_const
const S_CONST = LAYOUT.tensors.find((t) => t.name === 's_const')!.offset;

/** Random gradients: 0 on padding (the layout's convention), garbage on s_const that the optimizer must ignore. */
function randomGrad(rng: Rng, scale = 0.5): Float32Array {
  const g = Float32Array.from(TRAINABLE, (keep) => (keep ? scale * rng.normal() : 0));
  g[S_CONST] = 7;
  return g;
}

class Run {
  readonly optimizer: GpuOptimizer;
  readonly params: GPUBuffer;
  readonly grad: GPUBuffer;

  constructor(config: OptimizerConfig, initial: Float32Array) {
    this.optimizer = new GpuOptimizer(gpu.ctx, LAYOUT, config);
    this.params = gpu.ctx.upload('test/params', initial);
    this.grad = gpu.ctx.storage('test/grad', LAYOUT.totalSize * 4);
  }

  async update(grad: Float32Array): Promise<{ params: Float32Array; gradNorm: number }> {
    gpu.ctx.device.queue.writeBuffer(this.grad, 0, grad as Float32Array<ArrayBuffer>);
    const step = gpu.ctx.step('optimizer test');
    this.optimizer.record(step, this.params, this.grad);
    const params = step.readF32(this.params);
    const norm = step.readF32(this.optimizer.gradNorm);
    await step.submit();
    return { params: await params, gradNorm: (await norm)[0]! };
  }

  destroy(): void {
    this.optimizer.destroy();
    this.params.destroy();
    this.grad.destroy();
  }
}

const initialParams = (seed = 1) => Float32Array.from(initParams(LAYOUT, { seed }));

function expectWithin(what: string, got: ArrayLike<number>, expected: ArrayLike<number>, magnitude: ArrayLike<number>): void {
  const c = compareToReference(got, expected, optimTolerance(magnitude));
  expect(c.ok, describeComparison(what, c)).toBe(true);
}

const asF64 = (state: { step: number; tensors: Record<string, Float32Array> }): ReferenceOptimizerState => ({
  step: state.step,
  tensors: Object.fromEntries(Object.entries(state.tensors).map(([k, v]) => [k, Float64Array.from(v)])),
});

const LR: Record<OptimizerName, number> = { sgd: 0.05, sgd_momentum: 0.05, adamw: 0.01, rmsprop: 0.01 };
const CLIPS: [string, number | null, boolean][] = [
  ['no clipping', null, false],
  ['clip inactive (‖g‖ < clip)', 1e4, false],
  ['clip active (‖g‖ ≈ 10 > clip)', 0.3, true],
];
const grid = OPTIMIZER_NAMES.flatMap((name) =>
  [0, 0.1].flatMap((wd) => CLIPS.map(([label, clip, active]) => [`${name}, wd ${wd}, ${label}`, name, wd, clip, active] as const)),
);

describe.each(grid)('%s', (_label, name, weightDecay, clip, clipActive) => {
  it('follows the float64 reference for 5 steps; frozen entries never change; ‖g‖ is reported', async () => {
    const config: OptimizerConfig = { name, lr: LR[name], weightDecay, clip };
    const initial = initialParams();
    const run = new Run(config, initial);
    const rng = new Rng(17);
    let params: Float32Array = initial;
    try {
      for (let k = 1; k <= 5; k++) {
        const before = asF64(await run.optimizer.saveState());
        expect(before.step).toBe(k - 1);
        const grad = randomGrad(rng);
        const ref = referenceOptimizerStep(config, params.subarray(0, P), grad.subarray(0, P), before);
        const got = await run.update(grad);
        expect(ref.clipCoef < 1, `step ${k}: clipping active`).toBe(clipActive);
        const normError = Math.abs(got.gradNorm - ref.gradNorm);
        // ‖g‖: squares rounded (u), compensated sum (≈ exact), √ (u/2 + u): 4 u relative is ample.
        expect(normError, `step ${k}: ‖g‖ ${got.gradNorm} vs ${ref.gradNorm}`).toBeLessThanOrEqual(GRAD_NORM_ROUNDINGS * u * ref.gradNorm);
        expectWithin(`step ${k} params`, got.params.subarray(0, P), ref.params, ref.magnitudes.params);
        const state = await run.optimizer.saveState();
        expect(Object.keys(state.tensors).sort()).toEqual(Object.keys(ref.state.tensors).sort());
        for (const [key, values] of Object.entries(ref.state.tensors)) {
          expectWithin(`step ${k} ${key}`, state.tensors[key]!, values, ref.magnitudes.tensors[key]!);
        }
        expect(FROZEN.map((i) => got.params[i]), `step ${k}: padding and s_const`).toEqual(FROZEN.map((i) => initial[i]));
        params = got.params;
      }
      expect(run.optimizer.step).toBe(5);
    } finally {
      run.destroy();
    }
  });
});

describe('clipping', () => {
  it.each(OPTIMIZER_NAMES)('%s: an inactive clip gives bit-identical updates to no clip', async (name) => {
    const runs = [null, 1e4].map((clip) => new Run({ name, lr: LR[name], weightDecay: 0.1, clip }, initialParams()));
    const rngs = [new Rng(5), new Rng(5)];
    try {
      for (let k = 0; k < 3; k++) {
        const [a, b] = await Promise.all(runs.map(async (r, i) => (await r.update(randomGrad(rngs[i]!))).params));
        expect([...b!]).toEqual([...a!]);
      }
    } finally {
      runs.forEach((r) => r.destroy());
    }
  });

  it('scales by clip/(‖g‖ + 1e-6): the 1e-6 is visible at ‖g‖ ≈ 1e-3', async () => {
    // From p = 0 the SGD step is -lr·coef·g, so coef is checked to the usual few-u tolerance; the 1e-6 changes
    // it by 1e-3 relative, thousands of times the tolerance.
    const config: OptimizerConfig = { name: 'sgd', lr: 1, weightDecay: 0, clip: 5e-4 };
    const zeros = new Float32Array(LAYOUT.totalSize);
    const run = new Run(config, zeros);
    try {
      const grad = randomGrad(new Rng(6), 5e-5);
      const ref = referenceOptimizerStep(config, zeros.subarray(0, P), grad.subarray(0, P), { step: 0, tensors: {} });
      expect(ref.gradNorm).toBeLessThan(2e-3);
      const { params } = await run.update(grad);
      expectWithin('params after a clipped step', params.subarray(0, P), ref.params, ref.magnitudes.params);
    } finally {
      run.destroy();
    }
  });
});

describe('AdamW bias correction', () => {
  it('makes the first step lr·sign(g) (uncorrected it would be 3.16 lr)', async () => {
    const lr = 0.01;
    const initial = initialParams(3);
    const run = new Run({ name: 'adamw', lr, weightDecay: 0 }, initial);
    try {
      const grad = randomGrad(new Rng(8));
      const { params } = await run.update(grad);
      // m̂ = g and √v̂ = |g| exactly in real arithmetic, so |Δ| = lr·|g|/(|g| + eps). Δ read as p1 - p0 in f32
      // carries ≤ u·|p| ≈ 3e-8 of error, 3e-6 relative to lr.
      for (let i = 0; i < P; i++) {
        if (Math.abs(grad[i]!) < 1e-3) continue;
        const ratio = (initial[i]! - params[i]!) / (lr * Math.sign(grad[i]!));
        expect(Math.abs(ratio - 1), `element ${i}: step / (lr·sign g) = ${ratio}`).toBeLessThan(1e-4);
      }
    } finally {
      run.destroy();
    }
  });
});

describe('saveState / loadState', () => {
  it.each(OPTIMIZER_NAMES)('%s: 2 steps, save, load into a new optimizer, 3 steps = 5 steps uninterrupted, bit for bit', async (name) => {
    const config: OptimizerConfig = { name, lr: LR[name], weightDecay: 0.1, clip: 0.3 };
    const gradRng = new Rng(11);
    const grads = Array.from({ length: 5 }, () => randomGrad(gradRng));
    const straight = new Run(config, initialParams());
    const first = new Run(config, initialParams());
    let resumed: Run | undefined;
    try {
      let expected: Float32Array = new Float32Array();
      for (const g of grads) expected = (await straight.update(g)).params;
      let params: Float32Array = new Float32Array();
      for (const g of grads.slice(0, 2)) params = (await first.update(g)).params;
      const saved = await first.optimizer.saveState();
      resumed = new Run(config, params);
      resumed.optimizer.loadState(saved);
      expect(resumed.optimizer.step).toBe(2);
      for (const g of grads.slice(2)) params = (await resumed.update(g)).params;
      expect([...params]).toEqual([...expected]);
      const [a, b] = [await straight.optimizer.saveState(), await resumed.optimizer.saveState()];
      expect(b.step).toBe(5);
      for (const key of Object.keys(a.tensors)) expect([...b.tensors[key]!], key).toEqual([...a.tensors[key]!]);
    } finally {
      [straight, first, resumed].forEach((r) => r?.destroy());
    }
  });

  it('refuses state of another optimizer, a wrong length or a bad step, saying what was expected', () => {
    const optimizer = new GpuOptimizer(gpu.ctx, LAYOUT, { name: 'adamw', lr: 1e-3, weightDecay: 0 });
    try {
      const ok = new Float32Array(P);
      expect(() => optimizer.loadState({ step: 1, tensors: { square_avg: ok } })).toThrow(/expected state tensors \[exp_avg, exp_avg_sq\], got \[square_avg\]/);
      expect(() => optimizer.loadState({ step: 1, tensors: { exp_avg: ok, exp_avg_sq: new Float32Array(P - 4) } })).toThrow(
        new RegExp(`exp_avg_sq must be a Float32Array of ${P} elements .* got ${P - 4} floats`),
      );
      expect(() => optimizer.loadState({ step: -1, tensors: { exp_avg: ok, exp_avg_sq: ok } })).toThrow(/step must be an integer ≥ 0, got -1/);
    } finally {
      optimizer.destroy();
    }
  });
});

describe('preconditioner η_p', () => {
  it.each(['sgd', 'sgd_momentum'] as const)('%s: exactly lr everywhere', async (name) => {
    const run = new Run({ name, lr: 0.05, weightDecay: 0.1, clip: 0.3 }, initialParams());
    try {
      await run.update(randomGrad(new Rng(2)));
      const eta = await run.optimizer.preconditioner();
      expect(eta.length).toBe(P);
      expect(eta.every((x) => x === 0.05)).toBe(true);
    } finally {
      run.destroy();
    }
  });

  it.each([
    ['adamw', 'exp_avg_sq', (v: number, k: number) => 0.01 / (Math.sqrt(v / (1 - 0.999 ** k)) + 1e-8)],
    ['rmsprop', 'square_avg', (v: number) => 0.01 / (Math.sqrt(v) + 1e-8)],
  ] as const)('%s: matches lr/(√v̂ + eps) from the read-back state', async (name, key, formula) => {
    const run = new Run({ name, lr: 0.01, weightDecay: 0.1 }, initialParams());
    const rng = new Rng(4);
    try {
      for (let k = 0; k < 3; k++) await run.update(randomGrad(rng));
      const [eta, state] = [await run.optimizer.preconditioner(), await run.optimizer.saveState()];
      const expected = Array.from(state.tensors[key]!, (v) => formula(v, state.step));
      const c = compareToReference(eta, expected, (i) => 1e-15 * expected[i]!); // the same float64 formula
      expect(c.ok, describeComparison(`${name} η`, c)).toBe(true);
      const padding = FROZEN.find((i) => i < P)!;
      expect(eta[padding], `padding element ${padding} (v = 0) gives lr/eps`).toBe(0.01 / 1e-8);
    } finally {
      run.destroy();
    }
  });
});

describe('configuration', () => {
  it('parses the four names and refuses others, listing the valid ones', () => {
    for (const name of OPTIMIZER_NAMES) expect(parseOptimizerName(name)).toBe(name);
    expect(() => parseOptimizerName('adam')).toThrow('unknown optimizer "adam"; expected one of sgd, sgd_momentum, adamw, rmsprop');
  });

  it.each([
    ['an unknown name', { name: 'lbfgs' as OptimizerName, lr: 1e-3, weightDecay: 0 }, /unknown optimizer "lbfgs"; expected one of/],
    ['a negative lr', { name: 'sgd', lr: -1e-3, weightDecay: 0 }, /lr must be a finite number ≥ 0, got -0.001/],
    ['a NaN weight decay', { name: 'adamw', lr: 1e-3, weightDecay: NaN }, /weightDecay must be a finite number ≥ 0/],
    ['β2 = 1', { name: 'adamw', lr: 1e-3, weightDecay: 0, betas: [0.9, 1] }, /betas\[1\] must be in \[0, 1\), got 1/],
    ['a negative clip', { name: 'rmsprop', lr: 1e-3, weightDecay: 0, clip: -1 }, /clip must be a finite number > 0, or 0 or null/],
  ] as [string, OptimizerConfig, RegExp][])('refuses %s', (_label, config, message) => {
    expect(() => new GpuOptimizer(gpu.ctx, LAYOUT, config)).toThrow(message);
  });

  it('fills torch defaults; clip 0 means none', () => {
    const optimizer = new GpuOptimizer(gpu.ctx, LAYOUT, { name: 'adamw', lr: 1e-3, weightDecay: 1e-4, clip: 0 });
    expect(optimizer.config).toEqual({ name: 'adamw', lr: 1e-3, weightDecay: 1e-4, momentum: 0.9, betas: [0.9, 0.999], eps: 1e-8, alpha: 0.99, clip: null });
    optimizer.destroy();
  });
});

describe('OptimParams layout', () => {
  it('u32 count and first, then 13 f32 in declaration order, 60 bytes', () => {
    expect(byteSizeOf(OptimParams)).toBe(60);
    const floatFields = ['clip', 'lr', 'weightDecay', 'decay', 'momentum', 'oneMinusBeta1', 'beta2', 'oneMinusBeta2', 'stepSize', 'bc2Sqrt', 'alpha', 'oneMinusAlpha', 'eps'];
    const floats = floatFields.map((_, i) => (i + 1) / 4);
    const value = { count: 388, first: 1, ...Object.fromEntries(floatFields.map((f, i) => [f, floats[i]])) } as InferInput<typeof OptimParams>;
    const bytes = packStruct(OptimParams, value);
    expect([...new Uint32Array(bytes, 0, 2)]).toEqual([388, 1]);
    expect([...new Float32Array(bytes, 8)]).toEqual(floats);
    expect(wgslStruct('OptimParams', OptimParams)).toMatch(/^struct OptimParams \{\n  count: u32,\n  first: u32,\n  clip: f32,\n  lr: f32,/);
  });
});
