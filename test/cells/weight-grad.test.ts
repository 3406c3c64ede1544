// Weight gradients in their three shapes: shaders/grad.ts with one slice per chunk, compensated per block of 16 rows
// (and, forced, row by row), each thread whole columns of its tile (CPU adapters; the same bits as an 8×8 plane of
// threads with one slice), and
// four slices summed side by side then combined in order, compensated per block of GRAD_BLOCK rows, both
// GRAD_UNROLL rows per loop pass; and shaders/grad-staged.ts (GPUs), the sums of one slice with blocks of 16 rows. Lavapipe runs the CPU shape unless told the adapter is a GPU, as here: both agree
// with the float64 twin; one slice and four with the same blocks agree to a few units in the last place (the
// compensated sums group the blocks differently, each exact to ~2^-48 before the final rounding). T = 37 leaves
// partial blocks at chunk and slice ends.
import { describe, expect, it, vi } from 'vitest';
import { gpuLikeContext, useGpu } from '../support/gpu.ts';
import { gaussianInputs, gpuGradient } from '../support/cells.ts';
import { buildLayout, initParams, cellLayerNorm, type CellKind } from '../../src/model/index.ts';
import { referenceBackward } from '../../src/reference/cells/index.ts';
import { compareToReference, describeComparison } from '../../src/reference/compare.ts';
import { gradientTolerance } from '../../src/doctor/tolerances.ts';
import { CPU_GRAD_BLOCK, GRAD_BLOCK, GRAD_UNROLL, gradBlock, gradKernel, gradLanes, gradProgram, gradUnroll } from '../../shaders/grad.ts';
import { deviceSubgroupSize } from '../../src/cells/tiles.ts';
import { NARROW, STAGED_ROWS, WIDE, gradPrefetch, gradStagedProgram, stagedShape } from '../../shaders/grad-staged.ts';

/** `run` with environment settings (vitest's stubs), restored after. */
async function withEnv<T>(settings: Record<string, string>, run: () => Promise<T>): Promise<T> {
  for (const [name, value] of Object.entries(settings)) vi.stubEnv(name, value);
  try {
    return await run();
  } finally {
    vi.unstubAllEnvs();
  }
}

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
      const staged = await gpuGradient(asGpu, layout, p, x, y, B, T, every); // the GPUs' default: staged, 256 chunks
      // The direct kernel in the GPUs' form, with the CPU adapters' chunks: the same rows in each chunk as one slice.
      const four = await withEnv({ LWIN_GRAD_KERNEL: 'direct', LWIN_GRAD_CHUNKS: '64' }, () => gpuGradient(asGpu, layout, p, x, y, B, T, every));
      for (const [name, got] of [['one slice', one], ['four slices', four], ['staged', staged]] as const) {
        const c = compareToReference(got.grad, ref.grad, tolerance);
        expect(c.ok, describeComparison(`${name}, checkpoint ${every ?? 'none'}: ∂L/∂θ`, c)).toBe(true);
      }
      // The staged kernel sums what the direct one sums with one slice and blocks of 16 rows, in the same order.
      expect(gradKernel(true)).toBe('direct');
      const stagedHere = await withEnv({ LWIN_GRAD_KERNEL: 'staged' }, () => gpuGradient(gpu.ctx, layout, p, x, y, B, T, every));
      const direct16 = await withEnv({ LWIN_GRAD_BLOCK: String(STAGED_ROWS) }, () => gpuGradient(gpu.ctx, layout, p, x, y, B, T, every));
      expect([...stagedHere.grad], `checkpoint ${every ?? 'none'}: staged against direct, blocks of ${STAGED_ROWS}`).toEqual([...direct16.grad]);
      // A CPU adapter's blocks are the staged kernel's, so with the same chunks its sums are the GPUs'.
      expect(gradBlock(true)).toBe(CPU_GRAD_BLOCK);
      expect(CPU_GRAD_BLOCK).toBe(STAGED_ROWS);
      expect([...one.grad]).toEqual([...stagedHere.grad]);
      // The columns lanes load A by subgroup lanes and broadcast it (lavapipe: subgroups of 8); plain loads give the same bits.
      expect(deviceSubgroupSize(gpu.ctx.device)).toBe(8);
      expect(gradProgram(false, 1, 1, CPU_GRAD_BLOCK, 'columns', 8).source()).toContain('subgroupBroadcast(am0, 7u)');
      expect(gradProgram(false, 1, 1, CPU_GRAD_BLOCK, 'columns', 8, 16).source()).toContain('subgroupBroadcast(am1, 7u)');
      expect(gradProgram(false, 1, 1, CPU_GRAD_BLOCK, 'columns', 4).source()).not.toContain('subgroup');
      const plainLoads = await withEnv({ LWIN_SUBGROUPS: 'off' }, () => gpuGradient(gpu.ctx, layout, p, x, y, B, T, every));
      expect([...plainLoads.grad], `checkpoint ${every ?? 'none'}: subgroup loads against plain ones`).toEqual([...one.grad]);
      // Row by row (LWIN_GRAD_BLOCK=1) rounds otherwise, and agrees with float64 too.
      const rowByRow = await withEnv({ LWIN_GRAD_BLOCK: '1' }, () => gpuGradient(gpu.ctx, layout, p, x, y, B, T, every));
      const c1 = compareToReference(rowByRow.grad, ref.grad, tolerance);
      expect(c1.ok, describeComparison(`row by row, checkpoint ${every ?? 'none'}: ∂L/∂θ`, c1)).toBe(true);
      expect([...rowByRow.grad]).not.toEqual([...one.grad]);
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
        const rolled = await withEnv({ LWIN_GRAD_KERNEL: 'direct', LWIN_GRAD_CHUNKS: '64' }, () => gpuGradient(asGpu, layout, p, x, y, B, T, every));
        expect([...rolled.grad], `checkpoint ${every ?? 'none'}: ${GRAD_UNROLL} rows per pass against 1`).toEqual([...four.grad]);
      } finally {
        delete process.env.LWIN_GRAD_UNROLL;
      }
    }
  });
});

/** gru with LayerNorm at B×T×H×D from `seed`: weights, inputs, targets and the float64 gradient. */
function gruProblem(B: number, T: number, H: number, D: number, seed: number) {
  const layout = buildLayout({ cell: 'gru', inputSize: D, hiddenSize: H, layernorm: true });
  const p = Float32Array.from(initParams(layout, { seed }));
  const x = gaussianInputs(B, T, D, seed + 1);
  const y = gaussianInputs(B, T, 1, seed + 2);
  return { B, T, layout, p, x, y, ref: referenceBackward(layout, p, { x, y, batch: B, steps: T }) };
}

/**
 * The staged kernel's gradient of `problem` (with `env`, checkpointed every `every` steps) within tolerance of float64,
 * and bit for bit the staged kernel's without prefetch and the direct kernel's with blocks of 16 rows.
 */
async function expectStaged(problem: ReturnType<typeof gruProblem>, env: Record<string, string>, every: number | undefined, label: string): Promise<void> {
  const { B, T, layout, p, x, y, ref } = problem;
  const run = (settings: Record<string, string>) => withEnv({ ...env, ...settings }, () => gpuGradient(gpu.ctx, layout, p, x, y, B, T, every));
  const staged = await run({ LWIN_GRAD_KERNEL: 'staged' });
  const c = compareToReference(staged.grad, ref.grad, gradientTolerance(layout, ref.grad));
  expect(c.ok, describeComparison(`staged, ${label}: ∂L/∂θ`, c)).toBe(true);
  // Each tile loaded only once the one before is summed (no prefetch): the same sums.
  expect([...(await run({ LWIN_GRAD_KERNEL: 'staged', LWIN_GRAD_PREFETCH: 'off' })).grad], `${label}: without prefetch`).toEqual([...staged.grad]);
  expect([...(await run({ LWIN_GRAD_BLOCK: String(STAGED_ROWS) })).grad], `${label}: direct, blocks of ${STAGED_ROWS}`).toEqual([...staged.grad]);
}

describe('staged weight gradients over several tiles of G', () => {
  it('gru B=3 T=41 H=70 D=67: tensors of 2×2 tiles of 64 with ragged edges, against float64 and the direct kernel', async () => {
    const problem = gruProblem(3, 41, 70, 67, 5);
    for (const every of [undefined, 9]) await expectStaged(problem, {}, every, `checkpoint ${every ?? 'none'}`);
    expect(gradStagedProgram(true).variantKey).not.toBe(gradStagedProgram(false).variantKey);
  });

  it('thin terms take the narrow tile (W against D = 3) or run transposed (a readout of K = 3 outputs): the direct kernel\'s bits', async () => {
    expect(stagedShape(128, 128)).toEqual(WIDE);
    expect(stagedShape(128, 16)).toEqual(NARROW);
    expect(stagedShape(3, 128)).toEqual({ ...NARROW, transposed: true });
    const [B, T, H, D, K] = [3, 40, 20, 3, 3];
    for (const cell of ['rnn', 'torch_gru'] as CellKind[]) {
      const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: false, outputs: K });
      const p = Float32Array.from(initParams(layout, { seed: 14 }));
      const x = gaussianInputs(B, T, D, 15);
      const y = gaussianInputs(B, T, K, 16);
      const loss = { loss: 'mse', lossSteps: 'all' } as const;
      const staged = await withEnv({ LWIN_GRAD_KERNEL: 'staged' }, () => gpuGradient(gpu.ctx, layout, p, x, y, B, T, undefined, loss));
      const direct16 = await withEnv({ LWIN_GRAD_BLOCK: String(STAGED_ROWS) }, () => gpuGradient(gpu.ctx, layout, p, x, y, B, T, undefined, loss));
      expect([...staged.grad], cell).toEqual([...direct16.grad]);
    }
  });

  it('chunks of several tiles (the prefetch of each next tile, the last one ragged): B=4 T=200 H=20 D=3 in 16 chunks of 50 rows', async () => {
    await expectStaged(gruProblem(4, 200, 20, 3, 8), { LWIN_GRAD_CHUNKS: '16' }, undefined, '16 chunks');
    await withEnv({ LWIN_GRAD_PREFETCH: 'later' }, async () => expect(() => gradPrefetch()).toThrow(/LWIN_GRAD_PREFETCH=later: use 'on' \(the default\) or 'off'/));
  });
});
