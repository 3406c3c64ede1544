// Adaptive base rate ρ (SPEC §5) on the GPU against the float64 twin that forms every row J_q = ∂h_{t,q}/∂θ
// explicitly (one tangent per parameter) and takes the Rayleigh quotient directly, for every cell × LayerNorm.
//
// Both sides read h_{t-1} (and c_{t-1}) from the same f32 forward states, so they differ only by the kernel's f32
// arithmetic. ρ is a J²-weighted mean of the η_p; relative errors δ_p in the weights move it by
// |Σ δ_p J_p² (η_p - ρ)| / Σ J_p² ≤ max δ · spread, spread = Σ J_p²|η_p - ρ| / Σ J_p² (from the reference). The
// weights are products of f32 gate values and slopes whose inputs carry ~1e-6 relative error (forward.test.ts), and
// the sums themselves are f32 dot products of ≤ D+H+1 positive terms (≤ 1e-6); a few factors differences like g - h
// lose more where they nearly cancel, but such terms carry little weight. Tolerance: 4e-6·ρ (the final ratio and
// product) + 1e-4·spread. A missing block, path or LayerNorm term moves ρ by a sizeable fraction of the spread.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { gaussianInputs, runForwardGpu, saturateGates } from '../support/cells.ts';
import { buildLayout, initParams, getTensorSpec, CELL_KINDS, type CellKind, type ParamLayout, GATED_CELL_KINDS, layerNormChoices, cellLayerNorm } from '../../src/model/index.ts';
import type { Tile } from '../../shaders/cells/tile.ts';
import { compareToReference, describeComparison } from '../../src/reference/compare.ts';
import { referenceRho } from '../../src/reference/diagnostics/rho.ts';
import { RhoEngine } from '../../src/diagnostics/rho.ts';
import { defaultTileOn } from '../../src/cells/tiles.ts';
import { Rng } from '../../src/util/random.ts';
import { rhoTolerance } from '../../src/doctor/tolerances.ts';

const gpu = useGpu();
const [B, T, H, D] = [2, 9, 12, 3];
const LR = 1e-3;
const EPS = 1e-8;

/**
 * - plain: trained-looking weights, the default init plus noise on every trainable tensor (gates, Us, LayerNorm's γ, β);
 * - saturated: gate biases ±9 (SPEC §4's delicate regime: σ' ≈ 1e-4);
 * - shut: lstm's output gate at σ(-50) ≈ 2e-22, so every J_qp is ~1e-22 and its square underflows f32 unless the
 *   kernel rescales the factors first (it does: ρ is a ratio).
 */
type Regime = 'plain' | 'saturated' | 'shut';

function testParams(layout: ParamLayout, seed: number, regime: Regime): Float32Array {
  const params = initParams(layout, { seed, orthogonal: true });
  const rng = new Rng(seed + 100);
  for (const t of layout.tensors.filter((t) => t.trainable)) {
    for (let i = t.offset; i < t.offset + t.size; i++) params[i] = params[i]! + 0.3 * rng.normal();
  }
  if (regime === 'saturated') saturateGates(layout, params);
  if (regime === 'shut') {
    const bias = getTensorSpec(layout, 'Wo.bias');
    params.fill(-50, bias.offset, bias.offset + bias.size);
  }
  return Float32Array.from(params);
}

/** AdamW-like η_p = lr/(√v̂ + eps), v̂ = 10^u with u uniform in [-10, 0]; padding gets lr/eps as an optimizer's v = 0 would. */
function adamLikeRates(layout: ParamLayout, seed: number): Float64Array {
  const rng = new Rng(seed);
  const eta = new Float64Array(layout.trainableSize).fill(LR / EPS);
  for (const t of layout.tensors.filter((t) => t.trainable)) {
    for (let i = t.offset; i < t.offset + t.size; i++) eta[i] = LR / (Math.sqrt(10 ** (-10 * rng.uniform())) + EPS);
  }
  return eta;
}

/** The rates of the parameters that can reach h (readout excluded): ρ is a weighted mean of these. */
function recurrentRateRange(layout: ParamLayout, eta: Float64Array): [number, number] {
  let [lo, hi] = [Infinity, -Infinity];
  for (const t of layout.tensors.filter((t) => t.trainable && !t.name.startsWith('out.'))) {
    for (let i = t.offset; i < t.offset + t.size; i++) [lo, hi] = [Math.min(lo, eta[i]!), Math.max(hi, eta[i]!)];
  }
  return [lo, hi];
}

interface Sizes {
  batch: number;
  steps: number;
}

async function gpuRho(layout: ParamLayout, params: Float32Array, x: Float32Array, stored: Float32Array, engines: RhoEngine[], sizes: Sizes): Promise<Float32Array[]> {
  const ctx = gpu.ctx;
  const { batch: count, steps } = sizes;
  const buffers = [ctx.upload('test/P', params), ctx.upload('test/x', x), ctx.upload('test/states', stored)];
  const outputs = engines.map((_e, i) => ctx.storage(`test/rho${i}`, count * steps * layout.config.hiddenSize * 4));
  try {
    const step = ctx.step('test rho');
    engines.forEach((engine, i) => engine.recordBatch(step, { params: buffers[0]!, x: buffers[1]!, states: buffers[2]!, count, steps, rho: outputs[i]! }));
    const reads = outputs.map((o) => step.readF32(o));
    await step.submit();
    return await Promise.all(reads);
  } finally {
    for (const b of [...buffers, ...outputs]) b.destroy();
  }
}

/**
 * Runs ρ under SGD and AdamW-like rates on the GPU and checks both (see the header for the tolerance); `reference:
 * false` (sizes where the explicit quotient is too slow) checks SGD's bitwise lr and the AdamW-like range only.
 */
async function checkRho(layout: ParamLayout, regime: Regime, sizes: Sizes, options: { tile?: Tile; reference?: boolean } = {}): Promise<void> {
  const { batch, steps } = sizes;
  const params = testParams(layout, 5, regime);
  const x = gaussianInputs(batch, steps, layout.config.inputSize, 7);
  const { stored } = await runForwardGpu(gpu.ctx, layout, params, x, batch, steps);
  const eta = adamLikeRates(layout, 9);
  const sgd = new RhoEngine(gpu.ctx, layout, new Float64Array(layout.trainableSize).fill(LR), options.tile);
  const adam = new RhoEngine(gpu.ctx, layout, eta, options.tile);
  try {
    const [rhoSgd, rhoAdam] = await gpuRho(layout, params, x, stored, [sgd, adam], sizes);
    expect(sgd.etaBar).toBe(LR);
    const lr32 = Math.fround(LR);
    const offLr = rhoSgd!.findIndex((v) => v !== lr32);
    expect(offLr, `SGD ρ at index ${offLr} is ${rhoSgd![offLr]}, expected fround(lr) = ${lr32}`).toBe(-1);

    if (options.reference !== false) {
      const ref = referenceRho(layout, params, { x, batch, steps, states: stored }, eta);
      expect(Math.abs(adam.etaBar - ref.etaBar) / ref.etaBar, 'η̄ (padding excluded)').toBeLessThan(1e-12);
      const c = compareToReference(rhoAdam!, ref.rho, rhoTolerance(ref));
      expect(c.ok, describeComparison('ρ (AdamW-like)', c)).toBe(true);
    }
    const [lo, hi] = recurrentRateRange(layout, eta);
    const outside = rhoAdam!.findIndex((v) => !(v >= lo * (1 - 1e-6) && v <= hi * (1 + 1e-6)));
    expect(outside, `ρ[${outside}] = ${rhoAdam![outside]} outside [min η, max η] = [${lo}, ${hi}]`).toBe(-1);
  } finally {
    sgd.destroy();
    adam.destroy();
  }
}

type Case = [string, CellKind, boolean, Regime];
const cases: Case[] = CELL_KINDS.flatMap((cell) => layerNormChoices(cell).map((ln): Case => [`${cell} ln=${ln}`, cell, ln, 'plain']));
cases.push(...GATED_CELL_KINDS.filter((c) => c !== 'const').map((cell): Case => [`${cell} ln=true, saturated gates`, cell, true, 'saturated']));
cases.push(['lstm ln=true, output gate shut (J² below f32 range)', 'lstm', true, 'shut']);

describe.each(cases)('rho: %s', (_name, cell, layernorm, regime) => {
  it(`SGD gives lr bitwise; AdamW-like rates match the explicit Rayleigh quotient (B=${B} T=${T} H=${H} D=${D})`, async () => {
    await checkRho(buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm }), regime, { batch: B, steps: T });
  });
});

describe('rho: sizes and dispatch chunks', () => {
  it.each(['gru', 'lstm'] as CellKind[])('%s ln=true: D=130 inputs (x read from storage)', async (cell) => {
    await checkRho(buildLayout({ cell, inputSize: 130, hiddenSize: H, layernorm: true }), 'plain', { batch: 2, steps: 9 });
  });

  // The thread tile with K units per thread (H up to 1024), at a size the explicit quotient can check: four units
  // per thread over groups of 4 threads (16 unit slots, 4 idle); gru with LayerNorm also takes the fourth vector.
  // LLVM compiles lstm's four-unit ρ in ~55 s with a cold shader cache (alone; measured before and after the grouped
  // sums of 11-27 alike), so beside the suite's other worker it needs more than the default 120 s.
  it.each(CELL_KINDS)('%s: four units per thread (tile r1k4hp4wg32) match float64', async (cell) => {
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true) });
    await checkRho(layout, 'plain', { batch: 3, steps: 5 }, { tile: { R: 1, K: 4, hp: 4, threads: 32 } });
  }, 300_000);

  // GPUs unroll ρ's row sums 8 steps per pass (this adapter: 1); the multiply-adds keep their order: the same bits.
  it.each(['gru', 'lstm'] as CellKind[])('%s ln=true: row sums unrolled 8 steps per pass, and held weights, give the same bits', async (cell) => {
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: true });
    const sizes = { batch: 3, steps: 5 };
    const params = testParams(layout, 5, 'plain');
    const x = gaussianInputs(sizes.batch, sizes.steps, D, 7);
    const { stored } = await runForwardGpu(gpu.ctx, layout, params, x, sizes.batch, sizes.steps);
    const eta = adamLikeRates(layout, 9);
    const tile = defaultTileOn(gpu.ctx.device, layout.config.cell, H);
    expect(tile.unroll).toBe(1);
    // and with the forward step's weights held (shaders/cells/held-weights.ts, this adapter's default in studies)
    const held = { ...tile, held: true, dims: { H, D } };
    const engines = [tile, { ...tile, unroll: 8 }, held].map((t) => new RhoEngine(gpu.ctx, layout, eta, t));
    try {
      const [rolled, unrolled, fromHeld] = await gpuRho(layout, params, x, stored, engines, sizes);
      expect([...unrolled!]).toEqual([...rolled!]);
      expect([...fromHeld!]).toEqual([...rolled!]);
    } finally {
      for (const e of engines) e.destroy();
    }
  });

  // GPUs sum in 8 partials (src/cells/tiles.ts devicePartials; this adapter: 1): another order of the same terms,
  // as close to float64 as one chain. H = 12: a whole block and a guarded partial one; D = 3: the partial one alone.
  it.each(['gru', 'shared'] as CellKind[])('%s: 8 partial sums (a GPU\'s) match float64', async (cell) => {
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true) });
    await checkRho(layout, 'plain', { batch: 3, steps: 5 }, { tile: { ...defaultTileOn(gpu.ctx.device, cell, H), partials: 8, unroll: 8 } });
  });

  it.each(['gru', 'lstm', 'torch_lstm'] as CellKind[])('%s at H=520 (the default tile, four units per thread): SGD gives lr bitwise, AdamW-like ρ within the rates', async (cell) => {
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: 520, layernorm: cellLayerNorm(cell, true) });
    await checkRho(layout, 'plain', { batch: 1, steps: 3 }, { reference: false });
  });

  it('gru ln=true: B=9 (two workgroups of 8 sequences), T=70 (two dispatches of ≤ 64 steps)', async () => {
    await checkRho(buildLayout({ cell: 'gru', inputSize: D, hiddenSize: H, layernorm: true }), 'plain', { batch: 9, steps: 70 });
  });
});
