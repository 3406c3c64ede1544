// Weight gradients (shaders/grad.ts) in both shapes: one slice per chunk, compensated row by row, each thread whole
// columns of its tile (CPU adapters; the same bits as the GPUs' 8×8 plane of threads with one slice), and
// four slices summed side by side then combined in order, compensated per block of GRAD_BLOCK rows (GPUs), both
// GRAD_UNROLL rows per loop pass. Lavapipe runs the CPU shape unless told the adapter is a GPU, as here: both agree
// with the float64 twin; one slice and four with the same blocks agree to a few units in the last place (the
// compensated sums group the blocks differently, each exact to ~2^-48 before the final rounding). T = 37 leaves
// partial blocks at chunk and slice ends.
import { describe, expect, it } from 'vitest';
import { gpuLikeContext, useGpu } from '../support/gpu.ts';
import { gaussianInputs, gpuGradient } from '../support/cells.ts';
import { buildLayout, initParams, cellLayerNorm, type CellKind } from '../../src/model/index.ts';
import { referenceBackward } from '../../src/reference/cells/index.ts';
import { compareToReference, describeComparison } from '../../src/reference/compare.ts';
import { gradientTolerance } from '../../src/doctor/tolerances.ts';
import { GRAD_BLOCK, GRAD_UNROLL, gradBlock, gradLanes, gradUnroll } from '../../shaders/grad.ts';

const gpu = useGpu();

describe.each(['gru', 'lstm', 'torch_gru', 'shared'] as CellKind[])('%s: weight gradients, one slice and four', (cell) => {
  it('B=6 T=37 H=20 D=3, stored and checkpointed: both against float64 and each other', async () => {
    expect(gpu.ctx.softwareAdapter).toBe(true);
    const asGpu = gpuLikeContext(gpu);
    expect(asGpu.softwareAdapter).toBe(false);
    const [B, T, H, D] = [6, 37, 20, 3];
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true) });
    const p = Float32Array.from(initParams(layout, { seed: 11 }));
    const x = gaussianInputs(B, T, D, 12);
    const y = gaussianInputs(B, T, 1, 13);
    const ref = referenceBackward(layout, p, { x, y, batch: B, steps: T });
    const tolerance = gradientTolerance(layout, ref.grad);
    for (const every of [undefined, 5]) {
      const one = await gpuGradient(gpu.ctx, layout, p, x, y, B, T, every);
      const four = await gpuGradient(asGpu, layout, p, x, y, B, T, every);
      for (const [name, got] of [['one slice', one], ['four slices', four]] as const) {
        const c = compareToReference(got.grad, ref.grad, tolerance);
        expect(c.ok, describeComparison(`${name}, checkpoint ${every ?? 'none'}: ∂L/∂θ`, c)).toBe(true);
      }
      expect(gradBlock(true)).toBe(1);
      process.env.LWIN_GRAD_BLOCK = String(GRAD_BLOCK);
      try {
        const oneBlocked = await gpuGradient(gpu.ctx, layout, p, x, y, B, T, every);
        four.grad.forEach((g, i) => expect(Math.abs(g - oneBlocked.grad[i]!), `entry ${i}`).toBeLessThanOrEqual(4 * 2 ** -23 * Math.abs(oneBlocked.grad[i]!) + 1e-30));
      } finally {
        delete process.env.LWIN_GRAD_BLOCK;
      }
      // CPU adapters give each thread whole columns of the tile (gradLanes); the GPUs' 8×8 plane sums the same rows
      // in the same order for every output.
      expect(gradLanes(true)).toBe('columns');
      process.env.LWIN_GRAD_LANES = 'plane';
      try {
        const plane = await gpuGradient(gpu.ctx, layout, p, x, y, B, T, every);
        expect([...plane.grad], `checkpoint ${every ?? 'none'}: one slice, plane against columns`).toEqual([...one.grad]);
      } finally {
        delete process.env.LWIN_GRAD_LANES;
      }
      // The loop takes GRAD_UNROLL rows per pass; one row per pass sums the same rows in the same order.
      expect(gradUnroll()).toBe(GRAD_UNROLL);
      process.env.LWIN_GRAD_UNROLL = '1';
      try {
        const rolled = await gpuGradient(asGpu, layout, p, x, y, B, T, every);
        expect([...rolled.grad], `checkpoint ${every ?? 'none'}: ${GRAD_UNROLL} rows per pass against 1`).toEqual([...four.grad]);
      } finally {
        delete process.env.LWIN_GRAD_UNROLL;
      }
    }
  });
});
