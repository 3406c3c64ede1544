// Runs the GPU forward recurrence on host arrays and reads everything back, for tests against the float64 twin.
import { INTERMEDIATE_COUNT, readoutOutputs, stateWidth } from '../../src/model/cells.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { getTensorSpec, type ParamLayout } from '../../src/model/params.ts';
import { recordForward } from '../../src/cells/forward.ts';
import { recordBatchGradient, type ReadoutLoss } from '../../src/cells/backward.ts';
import { Rng } from '../../src/util/random.ts';
import { expect } from 'vitest';
import { chooseTile } from '../../src/cells/tiles.ts';
import { buildLayout, initParams, cellLayerNorm, type CellKind } from '../../src/model/index.ts';
import type { Tile } from '../../shaders/cells/tile.ts';

export interface GpuForwardResult {
  yhat: Float32Array;
  /** [slots, B, W, H]. */
  stored: Float32Array;
  /** [n, B, T, H]. */
  inter: Float32Array;
  /** Final state [B, W, H]. */
  state: Float32Array;
}

export async function runForwardGpu(
  ctx: GpuContext,
  layout: ParamLayout,
  params: Float32Array,
  x: Float32Array,
  batch: number,
  steps: number,
  options: { every?: number; ranges?: [number, number][] } = {},
): Promise<GpuForwardResult> {
  const { cell, hiddenSize: H } = layout.config;
  const W = stateWidth(cell);
  const every = options.every ?? 1;
  const slots = Math.floor(steps / every);
  const b = {
    params: ctx.upload('test/P', params),
    x: ctx.upload('test/x', x),
    state: ctx.storage('test/state', batch * W * H * 4),
    yhat: ctx.storage('test/yhat', batch * steps * 4),
    stored: ctx.storage('test/stored', Math.max(1, batch * slots * W * H) * 4),
    inter: ctx.storage('test/inter', INTERMEDIATE_COUNT[cell] * batch * steps * H * 4),
  };
  try {
    const step = ctx.step('test forward');
    step.clear(b.state);
    for (const range of options.ranges ?? [[0, steps]]) {
      recordForward(step, {
        layout, params: b.params, x: b.x, batch, steps, state: b.state, yhat: b.yhat, range,
        stored: { buffer: b.stored, slots, every, from: 0 }, intermediates: b.inter,
      });
    }
    const reads = [b.yhat, b.stored, b.inter, b.state].map((buf) => step.readF32(buf));
    await step.submit();
    const [yhat, stored, inter, state] = await Promise.all(reads);
    return { yhat: yhat!, stored: stored!, inter: inter!, state: state! };
  } finally {
    for (const buf of Object.values(b)) buf.destroy();
  }
}

export function gaussianInputs(batch: number, steps: number, inputSize: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: batch * steps * inputSize }, () => rng.normal());
}

/** Pushes gates towards 0 and 1 by scaling the gate biases (SPEC §4 terms are most delicate there). */
export function saturateGates(layout: ParamLayout, params: Float64Array): void {
  for (const name of ['Ws.bias', 'Wz.bias', 'Wr.bias', 'Wi.bias', 'Wf.bias', 'Wo.bias']) {
    if (!layout.tensors.some((t) => t.name === name)) continue;
    const spec = getTensorSpec(layout, name);
    for (let i = 0; i < spec.size; i++) params[spec.offset + i] = i % 2 === 0 ? 9 : -9;
  }
}

/** Loss, ∂L/∂θ and ŷ of one batch on the GPU (recordBatchGradient), stored or checkpointed every `every` steps. */
/**
 * One batch's loss and gradient on the GPU (checkpointed every `every` steps if given), with the model's readout
 * (K outputs) and `readoutLoss` (default: the paper's mse at every step).
 */
export async function gpuGradient(ctx: GpuContext, layout: ParamLayout, p: Float32Array, x: Float32Array, y: Float32Array, B: number, T: number, every?: number, readoutLoss?: ReadoutLoss) {
  const K = readoutOutputs(layout.config);
  const b = {
    params: ctx.upload('test/P', p), x: ctx.upload('test/x', x), y: ctx.upload('test/y', y),
    yhat: ctx.storage('test/yhat', B * T * K * 4), grad: ctx.storage('test/grad', layout.totalSize * 4), loss: ctx.storage('test/loss', 4),
  };
  try {
    const step = ctx.step('test bptt');
    recordBatchGradient(step, { layout, ...b, batch: B, steps: T, checkpointEvery: every, readoutLoss });
    const reads = [step.readF32(b.grad), step.readF32(b.loss), step.readF32(b.yhat)];
    await step.submit();
    const [grad, loss, yhat] = await Promise.all(reads);
    return { grad: grad!, loss: loss![0]!, yhat: yhat! };
  } finally {
    for (const buf of Object.values(b)) buf.destroy();
  }
}

/** What a tile's training kernels give on one problem: the forward's ŷ, states and SPEC §4 terms, and BPTT's loss and gradients. */
export interface TileResult {
  forward: GpuForwardResult;
  gradient: Awaited<ReturnType<typeof gpuGradient>>;
}

/**
 * A runner of one problem (layout, parameters, x, y; states stored every `every` steps) on the tile it is given,
 * which it makes the training kernels' choice for the layout's cell, LayerNorm option and H.
 */
export function tileRunner(ctx: GpuContext, layout: ParamLayout, p: Float32Array, x: Float32Array, y: Float32Array, B: number, T: number, every: number) {
  const { cell, layernorm, hiddenSize: H } = layout.config;
  return async (tile: Tile): Promise<TileResult> => {
    chooseTile(ctx.device, cell, layernorm, H, tile);
    return { forward: await runForwardGpu(ctx, layout, p, x, B, T, { every }), gradient: await gpuGradient(ctx, layout, p, x, y, B, T) };
  };
}

/** `got` equals `base` bit for bit: ŷ, states, SPEC §4 terms, loss and gradients (`at` names the tile in messages). */
export function expectSameBits(got: TileResult, base: TileResult, at: string): void {
  expect([...got.forward.yhat], `${at}: ŷ`).toEqual([...base.forward.yhat]);
  expect([...got.forward.stored], `${at}: states`).toEqual([...base.forward.stored]);
  expect([...got.forward.inter], `${at}: SPEC §4 terms`).toEqual([...base.forward.inter]);
  expect(got.gradient.loss, `${at}: loss`).toBe(base.gradient.loss);
  expect([...got.gradient.grad], `${at}: gradients`).toEqual([...base.gradient.grad]);
}

/**
 * A small problem for comparing tiles: `cell` (LayerNorm where it has one) at B, T, H, D, parameters from `seed`, x
 * and y from `seeds` (gaussian), states stored every `every` steps; with its runner (tileRunner).
 */
export function tileProblem(ctx: GpuContext, cell: CellKind, [B, T, H, D]: [number, number, number, number], seed: number, seeds: [number, number], every: number) {
  const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true) });
  const p = Float32Array.from(initParams(layout, { seed }));
  const x = gaussianInputs(B, T, D, seeds[0]);
  const y = gaussianInputs(B, T, 1, seeds[1]);
  return { layout, p, x, y, run: tileRunner(ctx, layout, p, x, y, B, T, every) };
}
