// GPU loss and BPTT gradients against the float64 twin (itself checked against finite differences in
// test/reference/cells), for every cell × LayerNorm × init, stored and checkpointed.
//
// Tolerance per tensor: |g - ref| ≤ 2e-6·max|ref over the tensor| + 1e-5·|ref| + 1e-6·max|ref over all tensors|.
// A gradient entry is a sum over
// B·T rows of an adjoint times an operand; both carry the forward's f32 error (≲ 2e-7 relative, see the forward
// test) and the backward's own per-step rounding (dot products of length H), and the sums over rows are compensated
// (shaders/grad.ts, shaders/reduce.ts), so the error is a few 1e-7 of the tensor's scale (observed ≤ 4e-7).
// The last term covers sums that cancel: ∂L/∂out.bias = (2/N)·Σ(ŷ - y) is small while its terms are O(1), so its
// error is set by the ŷ errors (≈ 1e-7), i.e. by the scale of the whole gradient, not by its own value.
// Dropping a term of the adjoint (e.g. LayerNorm's mean corrections) moves gradients by ≥ 1e-3 of their scale.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { gaussianInputs, gpuGradient, tileProblem } from '../support/cells.ts';
import { buildLayout, initParams, CELL_KINDS, type CellKind, type ParamLayout, cellLayerNorm, layerNormChoices, getTensorSpec, LAYERNORM_PREFIX } from '../../src/model/index.ts';
import { referenceBackward } from '../../src/reference/cells/index.ts';
import { compareToReference, describeComparison } from '../../src/reference/compare.ts';
import { LOSS_RELATIVE, gradientTolerance } from '../../src/doctor/tolerances.ts';
import { backwardBindings, backwardProgram, operandNames } from '../../shaders/recurrence/backward.ts';
import { gradientTerms } from '../../src/cells/gradients.ts';
import { defaultTile } from '../../src/cells/tiles.ts';

const gpu = useGpu();

function expectGradientsClose(layout: ParamLayout, got: Float32Array, expected: Float64Array): void {
  const tolerance = gradientTolerance(layout, expected);
  for (const t of layout.tensors) {
    const ref = expected.subarray(t.offset, t.offset + t.size);
    const c = compareToReference(got.subarray(t.offset, t.offset + t.size), ref, (i) => tolerance(t.offset + i));
    expect(c.ok, describeComparison(`∂L/∂${t.name}`, c)).toBe(true);
  }
}

type Case = [string, CellKind, boolean, boolean, number | undefined];
const cases: Case[] = CELL_KINDS.flatMap((cell) =>
  layerNormChoices(cell).flatMap((layernorm) =>
    [false, true].map((orthogonal): Case => [`${cell} ln=${layernorm} ${orthogonal ? 'orthogonal' : 'default'}`, cell, layernorm, orthogonal, undefined]),
  ),
);
cases.push(...CELL_KINDS.map((cell): Case => [`${cell} ln=${cellLayerNorm(cell, true)} checkpointed every 8`, cell, cellLayerNorm(cell, true), true, 8]));

describe.each(cases)('BPTT: %s', (_name, cell, layernorm, orthogonal, every) => {
  it('loss and every gradient match float64 at B=3 T=37 H=20 D=5', async () => {
    const [B, T, H, D] = [3, 37, 20, 5];
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm });
    const p = Float32Array.from(initParams(layout, { seed: 21, orthogonal }));
    const x = gaussianInputs(B, T, D, 5);
    const y = gaussianInputs(B, T, 1, 6);
    const ref = referenceBackward(layout, p, { x, y, batch: B, steps: T });
    const got = await gpuGradient(gpu.ctx, layout, p, x, y, B, T, every);
    expect(Math.abs(got.loss - ref.loss), `loss ${got.loss} vs ${ref.loss}`).toBeLessThanOrEqual(LOSS_RELATIVE * ref.loss);
    expectGradientsClose(layout, got.grad, ref.grad);
  });
});

describe('BPTT: sizes, and checkpointed against stored', () => {
  afterEach(() => vi.unstubAllEnvs());
  it.each(CELL_KINDS)('%s: H=32, B=9, T=70 (two workgroups, two dispatches per pass), checkpoints every 16 and 70', async (cell) => {
    const [B, T, H, D] = [9, 70, 32, 4];
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true) });
    const p = Float32Array.from(initParams(layout, { seed: 4 }));
    const x = gaussianInputs(B, T, D, 7);
    const y = gaussianInputs(B, T, 1, 8);
    const ref = referenceBackward(layout, p, { x, y, batch: B, steps: T });
    const stored = await gpuGradient(gpu.ctx, layout, p, x, y, B, T);
    expectGradientsClose(layout, stored.grad, ref.grad);
    for (const every of [16, 70]) {
      const checkpointed = await gpuGradient(gpu.ctx, layout, p, x, y, B, T, every);
      expect(checkpointed.loss).toBe(stored.loss);
      expect([...checkpointed.yhat]).toEqual([...stored.yhat]);
      expectGradientsClose(layout, checkpointed.grad, ref.grad);
    }
    // Same kernels on the same states: compensated row by row (LWIN_GRAD_BLOCK=1), only the grouping of the final
    // compensated sums differs. (In blocks of 16, the default, segments also move where the blocks of plain
    // multiply-adds begin, whose rounding scales with the terms' magnitudes, not with their sum's.)
    vi.stubEnv('LWIN_GRAD_BLOCK', '1');
    const rowByRow = await gpuGradient(gpu.ctx, layout, p, x, y, B, T);
    for (const every of [16, 70]) {
      const checkpointed = await gpuGradient(gpu.ctx, layout, p, x, y, B, T, every);
      const c = compareToReference(checkpointed.grad, rowByRow.grad, (i) => 1e-6 * Math.abs(rowByRow.grad[i]!) + 1e-9);
      expect(c.ok, describeComparison(`checkpointed every ${every} vs stored, row by row`, c)).toBe(true);
      // LayerNorm's gradients are summed over the steps by the backward itself, in the walk's order whatever the
      // segments (LN_PLANES): the same bits.
      if (layout.config.layernorm) {
        for (const part of ['weight', 'bias']) {
          const { offset, size } = getTensorSpec(layout, `${LAYERNORM_PREFIX[cell]}.${part}`);
          expect([...checkpointed.grad.subarray(offset, offset + size)], `${part} every ${every}`).toEqual([...rowByRow.grad.subarray(offset, offset + size)]);
        }
      }
    }
  });
});

describe('BPTT: batches larger than one binding', () => {
  it('plans checkpointed segments that fit one binding (checkpointed and stored agree: tests above)', async () => {
    const { largestSegment } = await import('../../src/cells/backward.ts');
    const layout = buildLayout({ cell: 'lstm', inputSize: 16, hiddenSize: 128, layernorm: true });
    const step = gpu.ctx.step('plan only');
    const k = largestSegment(step, layout, 512);
    // lstm: 4 adjoint blocks per unit; 512 sequences × 128 units × 4 × 4 bytes per step, after LayerNorm's 4 planes
    // of 512 × 128 sums. (The values the forward keeps for the backward have a buffer of their own, bound a
    // dispatch's steps at a time.)
    expect(k).toBe(Math.floor((gpu.ctx.device.limits.maxStorageBufferBindingSize - 4 * 512 * 128 * 4) / (512 * 4 * 128 * 4)));
    expect(k).toBeLessThan(1024); // the paper's T=1024 does not fit stored on this adapter
    await step.submit();
  });
});

// The weight gradients read h_{t-1} and h_t where the forward stored them (a segment's states, the state before it
// in slot k: startStateSlots), so the backward writes no copies of them: gru's r ⊙ h_{t-1} is its only operand. The
// float64 tests above check the sums (checkpointed: h_{t-1} of a segment's first step is its checkpoint).
describe('BPTT: the weight gradients read the stored states', () => {
  it.each(CELL_KINDS)('%s: operands and the sources of U\'s and the readout\'s gradients', (cell) => {
    const layout = buildLayout({ cell, inputSize: 3, hiddenSize: 8, layernorm: false });
    const bindings = backwardBindings({ cell, layernorm: false, tile: defaultTile(8) }).map((b) => b.name);
    expect(operandNames(cell)).toEqual(cell === 'gru' ? ['rh'] : []);
    expect(bindings.includes('ops')).toBe(cell === 'gru');
    const recurrent: Record<CellKind, string[]> = {
      const: ['Wh.weight'], shared: ['Wh.weight', 'Us.weight'], diag: ['Wh.weight', 'Us.weight'], gru: ['Uz.weight', 'Ur.weight'],
      lstm: ['Ui.weight', 'Uf.weight', 'Uo.weight', 'Ug.weight'], linear: ['Wh.weight'],
      rnn: ['weight_hh_l0'], rnn_relu: ['weight_hh_l0'], torch_gru: ['weight_hh_l0'], torch_lstm: ['weight_hh_l0'],
    };
    const terms = gradientTerms(layout);
    for (const term of terms) {
      if (term.tensor === 'out.weight') expect(term.v.source).toBe('h');
      else if (cell === 'gru' && term.tensor === 'Uh.weight') expect(term.v).toEqual({ source: 'ops', offset: 0 }); // r ⊙ h_{t-1}
      else if (recurrent[cell].includes(term.tensor)) expect(term.v.source, term.tensor).toBe('h_prev');
      else expect(['x', 'ones'], term.tensor).toContain(term.v.source);
    }
    expect(terms.filter((t) => t.v.source === 'h_prev').length).toBe(recurrent[cell].length + (cell === 'torch_gru' ? 1 : 0)); // torch_gru: rows n apart
  });
});

// A backward step that starts its adjoint with a sum over units (LayerNorm's, shared's gate) writes only unit_sum's
// scratch before its first barrier, so the step before it needs no barrier at its end (needsEndBarrier); one whose
// first write is put_d does. The float64 tests above run both forms.
const backwardProgramSource = (cell: CellKind, layernorm: boolean) => backwardProgram({ cell, layernorm, tile: defaultTile(8), replay: true }).source();

describe('BPTT: the barrier at the end of a backward step', () => {
  const cases: [CellKind, boolean, boolean][] = [
    ['const', true, false], ['const', false, true], ['shared', true, false], ['shared', false, false], ['diag', true, false], ['diag', false, true],
    ['gru', true, false], ['gru', false, true], ['lstm', true, false], ['lstm', false, true], ['linear', false, true], ['torch_gru', false, true],
  ];
  it.each(cases)('%s, LayerNorm %s: end barrier %s', async (cell, layernorm, expected) => {
    const { BACKWARD_STEPS, needsEndBarrier } = await import('../../shaders/recurrence/backward.ts');
    const { stepContext } = await import('../../shaders/recurrence/forward.ts');
    const step = BACKWARD_STEPS[cell](stepContext(cell, layernorm));
    expect(needsEndBarrier(step)).toBe(expected);
    const wgsl = backwardProgramSource(cell, layernorm);
    expect(/workgroupBarrier\(\); \/\/ the next step's put_d/.test(wgsl)).toBe(expected);
  });
});

// The backward replays the values the training forward kept (shaders/cells/replay.ts) instead of recomputing them.
// Both paths run the same forward-step WGSL on the same inputs, so they differ by no more than rounding in the
// recomputation (different kernels may contract differently): 1e-6 of each entry, as checkpointed against stored
// above. A value read from the wrong step, unit or place moves gradients by far more (the float64 tests above fail).
describe('BPTT: replayed against recomputed forward steps', () => {
  afterEach(() => vi.unstubAllEnvs());
  it.each(CELL_KINDS)('%s: H=32, B=9, T=70, stored and checkpointed every 16', async (cell) => {
    const [B, T] = [9, 70];
    const { layout, p, x, y } = tileProblem(gpu.ctx, cell, [B, T, 32, 4], 5, [9, 10], 1);
    for (const every of [undefined, 16]) {
      const replayed = await gpuGradient(gpu.ctx, layout, p, x, y, B, T, every);
      vi.stubEnv('LWIN_REPLAY', 'off');
      const recomputed = await gpuGradient(gpu.ctx, layout, p, x, y, B, T, every);
      vi.unstubAllEnvs();
      expect(Math.abs(replayed.loss - recomputed.loss)).toBeLessThanOrEqual(1e-6 * recomputed.loss);
      const c = compareToReference(replayed.grad, recomputed.grad, (i) => 1e-6 * Math.abs(recomputed.grad[i]!) + 1e-9);
      expect(c.ok, describeComparison(`replayed vs recomputed, every ${every ?? 'T (stored)'}`, c)).toBe(true);
    }
  });
});

describe('BPTT: where the forward keeps values for the backward', () => {
  afterEach(() => vi.unstubAllEnvs());
  // A stand-in for a Step with given limits: keptValues only sizes and allocates.
  const host = (maxBufferSize: number, maxBindingBytes: number) => ({
    device: { limits: { minStorageBufferOffsetAlignment: 256, maxBufferSize } } as unknown as GPUDevice,
    maxBindingBytes,
    scratch: (_label: string, bytes: number, boundAs?: string) => ({ size: bytes, boundAs }) as unknown as GPUBuffer,
  });
  // gru with LayerNorm keeps 4 values per unit and step (the gates' 2 pre-activations, n̂ and 1/σ; not the
  // candidate's, which LayerNorm takes whole): B=3, H=20 gives 240 floats, padded to 256 (256-byte offsets) so that a
  // window may start at any step.
  const layout = buildLayout({ cell: 'gru', inputSize: 5, hiddenSize: 20, layernorm: true });
  it('pads each step to the offset alignment and sizes the buffer by steps', async () => {
    const { keptValues, keptWindow } = await import('../../src/cells/forward.ts');
    const kept = keptValues(host(2 ** 40, 2 ** 30), layout, 3, 37, 5, 'test')!;
    expect(kept.stride).toBe(256);
    expect(kept.buffer.size).toBe(37 * 256 * 4);
    expect(keptWindow(kept, 69, 3)).toEqual({ buffer: kept.buffer, offset: 64 * 256 * 4, size: 3 * 256 * 4 });
  });
  it('keeps nothing where the buffer or a dispatch\'s window would not fit, or with LWIN_REPLAY=off', async () => {
    const { keptValues, STEPS_PER_DISPATCH } = await import('../../src/cells/forward.ts');
    expect(keptValues(host(37 * 256 * 4 - 4, 2 ** 30), layout, 3, 37, 0, 'test')).toBeUndefined();
    expect(keptValues(host(2 ** 40, STEPS_PER_DISPATCH * 256 * 4 - 4), layout, 3, 100, 0, 'test')).toBeUndefined();
    expect(keptValues(host(2 ** 40, STEPS_PER_DISPATCH * 256 * 4), layout, 3, 100, 0, 'test')).toBeDefined();
    vi.stubEnv('LWIN_REPLAY', 'off');
    expect(keptValues(host(2 ** 40, 2 ** 30), layout, 3, 37, 0, 'test')).toBeUndefined();
  });
  it('keeps a value the same on every unit once per sequence (LayerNorm\'s 1/σ, shared\'s gate), read back from unit 0, and not the candidate\'s a_g under LayerNorm', async () => {
    const { keepDots, replayDots } = await import('../../shaders/cells/replay.ts');
    const { FORWARD_STEPS, stepContext } = await import('../../shaders/recurrence/forward.ts');
    const step = FORWARD_STEPS.shared(stepContext('shared', true));
    // n̂ and 1/σ (layer_norm_and), g - h_{t-1} (replayed), then the gate's a_s (pre_seq); a_g, which LayerNorm takes
    // whole, is not kept
    expect(keepDots(step)).toMatch(/var a_g = pre_norm\([\s\S]*keep_ln_and\(0u, [\s\S]*keep_dot\(2u, replayed\(g - hq\)\)[\s\S]*keep_seq\(3u, pre_seq\(/);
    const replayed = replayDots(step);
    expect(replayed).toContain('var a_g = V(0.0);');
    expect(replayed).toContain('LnOut(replay_dot(0u), replay_seq(1u))');
    expect(replayed).toContain('let g_gap = replay_dot(2u);');
    expect(replayed).toContain('let a_s = replay_seq(3u);');
  });
  it('keeps a buffer larger than one binding, since dispatches bind it in windows (the paper size, 1 GiB bindings)', async () => {
    const { keptValues } = await import('../../src/cells/forward.ts');
    // lstm at B=512 T=1024 H=128: 5 × 128 × 512 floats a step (3 gates, n̂, 1/σ), 1.25 GiB in all, where a binding
    // holds at most 1 GiB.
    const paper = buildLayout({ cell: 'lstm', inputSize: 16, hiddenSize: 128, layernorm: true });
    const kept = keptValues(host(2 ** 32, 2 ** 30), paper, 512, 1024, 0, 'test')!;
    expect(kept.buffer.size).toBe(5 * 2 ** 28);
    expect((kept.buffer as unknown as { boundAs: string }).boundAs).toBe('windows');
  });
});
