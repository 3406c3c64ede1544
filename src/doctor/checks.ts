// Each kernel family at a tiny size against its float64 twin, with the tolerance its tests derive
// (src/doctor/tolerances.ts). The registry (registry.ts) lists which check covers which family; `lwin doctor`
// runs them all and the kernel bench times them.
import { INTERMEDIATE_COUNT, INTERMEDIATE_NAMES, stateWidth } from '../model/cells.ts';
import type { GpuContext } from '../gpu/context.ts';
import { buildLayout, initParams, maskTrainable, cellLayerNorm, type CellKind, type ParamLayout } from '../model/index.ts';
import { recordForward } from '../cells/forward.ts';
import { recordBatchGradient } from '../cells/backward.ts';
import { recordTangent } from '../cells/tangent.ts';
import { RhoEngine } from '../diagnostics/rho.ts';
import { WindowEngine } from '../diagnostics/windows.ts';
import { runDiagnostics } from '../diagnostics/stage.ts';
import { tangentStateWidth } from '../../shaders/recurrence/tangent.ts';
import { referenceBackward, referenceForward, referenceTangent } from '../reference/cells/index.ts';
import { referenceRho } from '../reference/diagnostics/rho.ts';
import { referenceMu } from '../reference/diagnostics/windows.ts';
import { referenceDiagnosticStage } from '../reference/diagnostics/stage.ts';
import { unitDirection } from '../reference/direction.ts';
import { referenceOptimizerStep } from '../reference/optim.ts';
import { F32_UNIT_ROUNDOFF as U, compareToReference, type Comparison } from '../reference/compare.ts';
import { GpuOptimizer, OPTIMIZER_NAMES } from '../train/optim/index.ts';
import { MultiLagTask } from '../data/task.ts';
import { Rng } from '../util/random.ts';
import { chooseTile, defaultTile, devicePartials, lanesBySubgroup, makeTile } from '../cells/tiles.ts';
import { checkedSubgroupSize } from '../gpu/device.ts';
import { tileKey, type Tile } from '../../shaders/cells/tile.ts';
import {
  GRAD_NORM_ROUNDINGS, LOSS_RELATIVE, STAGE_RELATIVE, forwardTolerance, gradientTolerance, muTolerance, optimTolerance, rhoTolerance,
  tangentRowTolerance, type Tolerance,
} from './tolerances.ts';

export interface KernelCheck {
  kernel: string;
  shape: string;
  comparison: Comparison;
  /** The GPU's values, for callers that compare runtimes with each other. */
  values: Float32Array;
}

/** The tiny size every recurrent check runs at: two sequences, nine steps (LayerNorm where the cell has it). */
export const TINY = { batch: 2, steps: 9, hidden: 6, input: 3 } as const;

export function tinyLayout(cell: CellKind): ParamLayout {
  return buildLayout({ cell, inputSize: TINY.input, hiddenSize: TINY.hidden, layernorm: cellLayerNorm(cell, true) });
}

/**
 * On a device with partial sums (a GPU), the split tiles the autotune may pick for the training kernels: 2 lanes
 * held in the forward, and 4 held in every kernel where the device allows 512 threads; where its subgroups allow
 * (src/gpu/device.ts checkedSubgroupSize), lanes that add by subgroup shuffles too. A CPU adapter has none (its
 * lanes would run in lock-step anyway); a GPU's threads do not, so a race in their lane sums, or lanes that are not
 * one subgroup's, would show here.
 */
export function splitCheckTiles(ctx: GpuContext): Tile[] {
  const partials = devicePartials(ctx.device); // the cells' default without a cell: gru and lstm take one chain on GPUs, so these tiles name theirs
  if (partials < 4) return [];
  const H = TINY.hidden;
  const wide = ctx.device.limits.maxComputeInvocationsPerWorkgroup >= 512;
  const shuffles = lanesBySubgroup(checkedSubgroupSize(ctx.device), 4);
  const tiles: (readonly [Tile | undefined, Tile['held']])[] = [
    [makeTile(H, 1, 256, 2), 'forward'],
    [wide ? makeTile(H, 1, 512, 4) : undefined, true],
    // and where the lanes may add by subgroup shuffles, those tiles so, and 4 sequences of 4-lane units held
    ...(shuffles ? [[makeTile(H, 1, 256, 2, 'subgroup'), 'forward'] as const, [wide ? makeTile(H, 4, 512, 4, 'subgroup') : undefined, true] as const] : []),
  ];
  return tiles.flatMap(([tile, held]) => (tile ? [{ ...tile, held, partials }] : []));
}

/** `check` of `cells` (gru and lstm) on each split tile of the device (splitCheckTiles); `named` puts the tile in a result. */
export async function onSplitTiles<T>(
  ctx: GpuContext, check: (cell: CellKind) => Promise<T>, named: (result: T, tile: string) => T, cells: readonly CellKind[] = ['gru', 'lstm'],
): Promise<T[]> {
  const out: T[] = [];
  for (const tile of splitCheckTiles(ctx)) {
    for (const cell of cells) {
      const layernorm = cellLayerNorm(cell, true);
      chooseTile(ctx.device, cell, layernorm, TINY.hidden, tile);
      try {
        out.push(named(await check(cell), tileKey(tile)));
      } finally {
        chooseTile(ctx.device, cell, layernorm, TINY.hidden, defaultTile(TINY.hidden));
      }
    }
  }
  return out;
}

/** `check` with the tile it ran on named in its shape. */
export function onTile(check: KernelCheck, tile: string): KernelCheck {
  return { ...check, shape: `${check.shape}, tile ${tile}` };
}

function gaussian(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** Several arrays compared as one, each with its own tolerance. */
function compareParts(parts: { got: ArrayLike<number>; expected: ArrayLike<number>; tolerance: Tolerance }[]): { comparison: Comparison; values: Float32Array } {
  const got: number[] = [];
  const expected: number[] = [];
  const tolerances: number[] = [];
  for (const p of parts) {
    for (let i = 0; i < p.expected.length; i++) {
      got.push(p.got[i]!);
      expected.push(p.expected[i]!);
      tolerances.push(p.tolerance(i));
    }
  }
  return { comparison: compareToReference(got, expected, (i) => tolerances[i]!), values: Float32Array.from(got) };
}

function shapeOf(layout: ParamLayout): string {
  const { cell, layernorm } = layout.config;
  return `${cell}${layernorm ? ' +ln' : ''} B=${TINY.batch} T=${TINY.steps} H=${TINY.hidden} D=${TINY.input}`;
}

async function withBuffers<T>(buffers: Record<string, GPUBuffer>, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } finally {
    for (const b of Object.values(buffers)) b.destroy();
  }
}

/** Forward (ŷ, h, the SPEC §4 terms) on the GPU, read back; the stored states feed ρ's check. */
async function gpuForward(ctx: GpuContext, layout: ParamLayout, params: Float32Array, x: Float32Array) {
  const { batch: B, steps: T } = TINY;
  const { cell, hiddenSize: H } = layout.config;
  const W = stateWidth(cell);
  const b = {
    params: ctx.upload('check/P', params), x: ctx.upload('check/x', x), state: ctx.storage('check/state', B * W * H * 4),
    yhat: ctx.storage('check/yhat', B * T * 4), stored: ctx.storage('check/stored', B * T * W * H * 4),
    inter: ctx.storage('check/inter', INTERMEDIATE_COUNT[cell] * B * T * H * 4),
  };
  return withBuffers(b, async () => {
    const step = ctx.step('check forward');
    step.clear(b.state);
    recordForward(step, {
      layout, params: b.params, x: b.x, batch: B, steps: T, state: b.state, yhat: b.yhat,
      stored: { buffer: b.stored, slots: T, every: 1, from: 0 }, intermediates: b.inter,
    });
    const reads = [b.yhat, b.stored, b.inter].map((buf) => step.readF32(buf));
    await step.submit();
    const [yhat, stored, inter] = await Promise.all(reads);
    return { yhat: yhat!, stored: stored!, inter: inter! };
  });
}

/** forward_<cell>: ŷ, h and the SPEC §4 terms against referenceForward. */
export async function checkForward(ctx: GpuContext, cell: CellKind): Promise<KernelCheck> {
  const layout = tinyLayout(cell);
  const { batch: B, steps: T } = TINY;
  const H = layout.config.hiddenSize;
  const W = stateWidth(cell);
  const params = Float32Array.from(initParams(layout, { seed: 11, orthogonal: true }));
  const x = gaussian(B * T * TINY.input, 3);
  const got = await gpuForward(ctx, layout, params, x);
  const ref = referenceForward(layout, params, { x, batch: B, steps: T });
  const h = new Float32Array(B * T * H);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) h.set(got.stored.subarray((t * B + b) * W * H, ((t * B + b) * W + 1) * H), (b * T + t) * H);
  const growth = cell === 'linear' ? Math.sqrt(T) : 1;
  const parts = [
    { got: got.yhat, expected: ref.yHat, tolerance: forwardTolerance(ref.yHat, growth) },
    { got: h, expected: ref.h, tolerance: forwardTolerance(ref.h, growth) },
    ...INTERMEDIATE_NAMES[cell].map((name, n) => {
      const expected = ref.intermediates[name]!;
      return { got: got.inter.subarray(n * B * T * H, (n + 1) * B * T * H), expected, tolerance: forwardTolerance(expected) };
    }),
  ];
  return { kernel: `forward_${cell}`, shape: `${shapeOf(layout)}: ŷ, h, SPEC §4 terms`, ...compareParts(parts) };
}

/** mse_residual (the loss, through the segmented reduction) and backward_<cell> + weight_grad (∂L/∂θ). */
export async function checkGradient(ctx: GpuContext, cell: CellKind): Promise<{ loss: KernelCheck; grad: KernelCheck }> {
  const layout = tinyLayout(cell);
  const { batch: B, steps: T } = TINY;
  const p = Float32Array.from(initParams(layout, { seed: 21, orthogonal: true }));
  const x = gaussian(B * T * TINY.input, 5);
  const y = gaussian(B * T, 6);
  const b = {
    params: ctx.upload('check/P', p), x: ctx.upload('check/x', x), y: ctx.upload('check/y', y),
    yhat: ctx.storage('check/yhat', B * T * 4), grad: ctx.storage('check/grad', layout.totalSize * 4), loss: ctx.storage('check/loss', 4),
  };
  const got = await withBuffers(b, async () => {
    const step = ctx.step('check bptt');
    recordBatchGradient(step, { layout, ...b, batch: B, steps: T });
    const reads = [step.readF32(b.grad), step.readF32(b.loss)];
    await step.submit();
    const [grad, loss] = await Promise.all(reads);
    return { grad: grad!, loss: loss! };
  });
  const ref = referenceBackward(layout, p, { x, y, batch: B, steps: T });
  const shape = shapeOf(layout);
  return {
    loss: { kernel: 'mse_residual', shape: `${shape}: MSE loss`, values: got.loss, comparison: compareToReference(got.loss, [ref.loss], () => LOSS_RELATIVE * ref.loss) },
    grad: { kernel: `backward_${cell} + weight_grad`, shape: `${shape}: ∂L/∂θ`, values: got.grad, comparison: compareToReference(got.grad, ref.grad, gradientTolerance(layout, ref.grad)) },
  };
}

/** tangent_<cell>: v (and ċ) and ŷ̇ against referenceTangent. */
export async function checkTangent(ctx: GpuContext, cell: CellKind): Promise<KernelCheck> {
  const layout = tinyLayout(cell);
  const { batch: B, steps: T } = TINY;
  const H = layout.config.hiddenSize;
  const params = Float32Array.from(initParams(layout, { seed: 12, orthogonal: true }));
  const w = unitDirection(layout, 112);
  const x = gaussian(B * T * TINY.input, 212);
  const lstm = stateWidth(cell) === 2;
  const b = {
    params: ctx.upload('check/P', params), direction: ctx.upload('check/Pd', w), x: ctx.upload('check/x', x),
    state: ctx.storage('check/state', B * tangentStateWidth(cell) * H * 4), v: ctx.storage('check/v', B * T * H * 4),
    vc: ctx.storage('check/vc', (lstm ? B * T * H : 1) * 4), yhatDot: ctx.storage('check/yhatDot', B * T * 4),
  };
  const got = await withBuffers(b, async () => {
    const step = ctx.step('check tangent');
    step.clear(b.state);
    recordTangent(step, { layout, params: b.params, direction: b.direction, x: b.x, batch: B, steps: T, state: b.state, v: b.v, cellTangent: lstm ? b.vc : undefined, yhatDot: b.yhatDot });
    const reads = [b.v, b.vc, b.yhatDot].map((buf) => step.readF32(buf));
    await step.submit();
    const [v, vc, yhatDot] = await Promise.all(reads);
    return { v: v!, vc: vc!, yhatDot: yhatDot! };
  });
  const ref = referenceTangent(layout, params, { x, batch: B, steps: T }, w);
  const parts = [
    { got: got.v, expected: ref.v, tolerance: tangentRowTolerance(ref.v, H) },
    ...(ref.vc ? [{ got: got.vc, expected: ref.vc, tolerance: tangentRowTolerance(ref.vc, H) }] : []),
    { got: got.yhatDot, expected: ref.yHatDot, tolerance: tangentRowTolerance(ref.yHatDot, T) },
  ];
  return { kernel: `tangent_${cell}`, shape: `${shapeOf(layout)}: v${lstm ? ', ċ' : ''}, ŷ̇`, ...compareParts(parts) };
}

/** AdamW-like rates η_p = lr/(√v̂ + eps) with v̂ spread over ten decades (as the ρ test draws them). */
function adamLikeRates(layout: ParamLayout, seed: number): Float64Array {
  const [lr, eps] = [1e-3, 1e-8];
  const rng = new Rng(seed);
  const eta = new Float64Array(layout.trainableSize).fill(lr / eps);
  for (const t of layout.tensors.filter((t) => t.trainable)) {
    for (let i = t.offset; i < t.offset + t.size; i++) eta[i] = lr / (Math.sqrt(10 ** (-10 * rng.uniform())) + eps);
  }
  return eta;
}

/** rho_<cell>: ρ under AdamW-like rates against the explicit Rayleigh quotient (referenceRho), on the GPU's states. */
export async function checkRho(ctx: GpuContext, cell: CellKind): Promise<KernelCheck> {
  const layout = tinyLayout(cell);
  const { batch: B, steps: T } = TINY;
  const H = layout.config.hiddenSize;
  const params = Float32Array.from(initParams(layout, { seed: 5, orthogonal: true }));
  const x = gaussian(B * T * TINY.input, 7);
  const { stored } = await gpuForward(ctx, layout, params, x);
  const eta = adamLikeRates(layout, 9);
  const engine = new RhoEngine(ctx, layout, eta);
  const b = { params: ctx.upload('check/P', params), x: ctx.upload('check/x', x), states: ctx.upload('check/states', stored), rho: ctx.storage('check/rho', B * T * H * 4) };
  const rho = await withBuffers(b, async () => {
    try {
      const step = ctx.step('check rho');
      engine.recordBatch(step, { params: b.params, x: b.x, states: b.states, count: B, steps: T, rho: b.rho });
      const read = step.readF32(b.rho);
      await step.submit();
      return await read;
    } finally {
      engine.destroy();
    }
  });
  const ref = referenceRho(layout, params, { x, batch: B, steps: T, states: stored }, eta);
  return { kernel: `rho_${cell}`, shape: `${shapeOf(layout)}: ρ, AdamW-like rates`, values: rho, comparison: compareToReference(rho, ref.rho, rhoTolerance(ref)) };
}

const WINDOW_LAGS = [1, 3, 8];

/** window_mu: μ_{t,q}(ℓ) from the prefix scan (window_scan) against referenceMu, on the GPU's own SPEC §4 terms. */
export async function checkWindowMu(ctx: GpuContext, cell: CellKind): Promise<KernelCheck> {
  const layout = tinyLayout(cell);
  const { batch: B, steps: T } = TINY;
  const H = layout.config.hiddenSize;
  const params = Float32Array.from(initParams(layout, { seed: 5, orthogonal: true }));
  const { inter } = await gpuForward(ctx, layout, params, gaussian(B * T * TINY.input, 9));
  const L = WINDOW_LAGS.length;
  const engine = new WindowEngine(ctx, { cell, batch: B, steps: T, hidden: H, lags: WINDOW_LAGS, firstOrder: true });
  const b = { inter: ctx.upload('check/intermediates', inter), mu: ctx.storage('check/mu', L * B * T * H * 4) };
  const mu = await withBuffers(b, async () => {
    try {
      const step = ctx.step('check window μ');
      engine.recordBatch(step, b.inter, B);
      engine.recordMu(step, b.mu, B);
      const read = step.readF32(b.mu);
      await step.submit();
      return await read;
    } finally {
      engine.destroy();
    }
  });
  const data = { cell, batch: B, steps: T, hidden: H, intermediates: inter };
  const parts = WINDOW_LAGS.map((ell, l) => {
    const ref = referenceMu(data, ell, true);
    // The kernel writes 0 before the window's first end (t < ℓ); the reference leaves those entries 0 as well.
    return { got: mu.subarray(l * B * T * H, (l + 1) * B * T * H), expected: ref.mu, tolerance: muTolerance(ref) };
  });
  return { kernel: 'window_scan + window_mu', shape: `${shapeOf(layout)}: μ(ℓ) for ℓ ∈ {${WINDOW_LAGS}}, first order`, ...compareParts(parts) };
}

/**
 * The diagnostic stage at a tiny size (readout_delta, window_scan, window_envelope, window_accumulate, and window_psi
 * where fuseWindows is false, after forward, tangent and ρ) against the float64 chain of the reference cells, as test/diagnostics/stage.test.ts.
 */
export async function checkDiagnosticStage(ctx: GpuContext, cell: CellKind, options: { fuseWindows?: boolean } = {}): Promise<{ envelope: KernelCheck; psi: KernelCheck }> {
  const fused = options.fuseWindows !== false;
  const task = new MultiLagTask({ steps: 20, inputSize: 3, lags: [2, 5], coeffs: [0.8, -0.5], noiseStd: 0.3, seed: 7 });
  const data = task.diagnosticSet(3);
  const layout = buildLayout({ cell, inputSize: 3, hiddenSize: TINY.hidden, layernorm: cellLayerNorm(cell, true) });
  const params = Float32Array.from(initParams(layout, { seed: 5 }));
  const eta = adamLikeRates(layout, 9);
  const lags = [1, 2, 5, 11];
  const wSeed = 212;
  const d = await runDiagnostics(ctx, layout, params, data, { lags, firstOrder: true, batch: 2, wSeed, seed: 1, transportSamples: 0, preconditioner: eta, psiSubsample: 8, fuseWindows: fused });
  const { envelope, psi } = referenceDiagnosticStage(layout, params, data, { lags, wSeed, eta });
  const env = compareParts(d.perLag.flatMap((lag, l) => {
    const r = envelope[l]!;
    return [
      { got: [lag.muL1Mean], expected: [r.muL1Mean], tolerance: () => STAGE_RELATIVE * r.muL1Mean },
      { got: [lag.logMuL1Mean], expected: [r.logMuL1Mean], tolerance: () => STAGE_RELATIVE },
      { got: lag.perUnit, expected: r.perUnit, tolerance: (q: number) => STAGE_RELATIVE * r.perUnit[q]! + 1e-30 },
      { got: [lag.generalized!.mean], expected: [r.generalizedMean!], tolerance: () => STAGE_RELATIVE * r.generalizedMean! },
    ];
  }));
  const sums = compareParts(d.perLag.map((lag, l) => {
    let [sum, size] = [0, 0];
    for (let b = 0; b < data.count; b++) {
      for (let t = lag.ell; t < data.steps; t++) {
        sum += psi.psi[(l * data.count + b) * data.steps + t]!;
        size += psi.magnitude[(l * data.count + b) * data.steps + t]!;
      }
    }
    return { got: [lag.psiMean * lag.count], expected: [sum], tolerance: () => STAGE_RELATIVE * size };
  }));
  const shape = `${cell}${layout.config.layernorm ? ' +ln' : ''} 3 sequences in batches of 2, T=20 H=${layout.config.hiddenSize}, ℓ ∈ {${lags}}`;
  return {
    envelope: { kernel: `window_envelope${fused ? ' (fused with ψ)' : ''} + window_accumulate`, shape: `${shape}: f̂, log f̂, per-unit, f̃`, ...env },
    psi: { kernel: `readout_delta + ${fused ? 'window_envelope (fused ψ)' : 'window_psi'}`, shape: `${shape}: Σψ per lag`, ...sums },
  };
}

/** optim_grad_squares (‖g‖, through the segmented reduction) and optim_update, one step of each optimizer. */
export async function checkOptimizers(ctx: GpuContext): Promise<{ norm: KernelCheck; update: KernelCheck }> {
  const layout = buildLayout({ cell: 'const', inputSize: 4, hiddenSize: 16, layernorm: true });
  const P = layout.trainableSize;
  const initial = Float32Array.from(initParams(layout, { seed: 1 }));
  const rng = new Rng(17);
  const trainable = new Float32Array(layout.totalSize).fill(1);
  maskTrainable(layout, trainable);
  const grad = Float32Array.from(trainable, (keep) => (keep ? 0.5 * rng.normal() : 0));
  const norms: { got: number[]; expected: number[] } = { got: [], expected: [] };
  const parts: { got: ArrayLike<number>; expected: ArrayLike<number>; tolerance: Tolerance }[] = [];
  for (const name of OPTIMIZER_NAMES) {
    const config = { name, lr: 0.01, weightDecay: 0.1, clip: 0.3 };
    const optimizer = new GpuOptimizer(ctx, layout, config);
    const b = { params: ctx.upload('check/params', initial), grad: ctx.upload('check/grad', grad) };
    const saved = await optimizer.saveState();
    const before = { step: saved.step, tensors: Object.fromEntries(Object.entries(saved.tensors).map(([k, v]) => [k, Float64Array.from(v)])) };
    const got = await withBuffers(b, async () => {
      try {
        const step = ctx.step(`check ${name}`);
        optimizer.record(step, b.params, b.grad);
        const params = step.readF32(b.params);
        const norm = step.readF32(optimizer.gradNorm);
        await step.submit();
        return { params: await params, norm: (await norm)[0]! };
      } finally {
        optimizer.destroy();
      }
    });
    const ref = referenceOptimizerStep(config, initial.subarray(0, P), grad.subarray(0, P), before);
    norms.got.push(got.norm);
    norms.expected.push(ref.gradNorm);
    parts.push({ got: got.params.subarray(0, P), expected: ref.params, tolerance: optimTolerance(ref.magnitudes.params) });
  }
  const shape = `${P} trainable parameters, one step of ${OPTIMIZER_NAMES.join(', ')} (wd 0.1, clip 0.3)`;
  return {
    norm: { kernel: 'optim_grad_squares', shape: `${shape}: ‖g‖`, values: Float32Array.from(norms.got), comparison: compareToReference(norms.got, norms.expected, (i) => GRAD_NORM_ROUNDINGS * U * norms.expected[i]!) },
    update: { kernel: 'optim_update', shape: `${shape}: parameters`, ...compareParts(parts) },
  };
}
