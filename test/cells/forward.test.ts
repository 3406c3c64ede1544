// GPU forward recurrence against the float64 twin (src/reference/cells) for every cell × LayerNorm × init.
//
// Tolerance |gpu - ref| ≤ 2e-6 + 2e-6·|ref|. Each step's pre-activations are f32 dot products of length D+H+1
// (error ≤ γ_{D+H+1}·Σ|w||v| ≈ 1.5e-6·Σ|w||v| at H=20), followed by tanh/σ (a few ulp) and, with LayerNorm, a
// division by σ that is O(1) here; tanh and convex gate mixing do not amplify errors, so they stay at that level
// over T steps (observed worst 2.4e-7 over all cases). A wrong weight, unit or step moves values by ≥ 1e-3.
// The linear cell has no contraction: each step's rounding error is carried on by Wh (orthogonal or near it,
// norm ≈ 1) and they add up like a random walk while ‖h‖ itself grows like √t, so its tolerance is √T times wider
// (observed worst error/tolerance 0.25 at T=70).
import { INTERMEDIATE_NAMES, stateWidth } from '../../src/model/cells.ts';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { gaussianInputs, runForwardGpu, saturateGates } from '../support/cells.ts';
import { buildLayout, initParams, CELL_KINDS, type CellKind, type ParamLayout, GATED_CELL_KINDS, cellLayerNorm, layerNormChoices } from '../../src/model/index.ts';
import { referenceForward } from '../../src/reference/cells/index.ts';
import { compareToReference, describeComparison } from '../../src/reference/compare.ts';
import { forwardTolerance } from '../../src/doctor/tolerances.ts';

const gpu = useGpu();

function expectClose(what: string, got: ArrayLike<number>, expected: ArrayLike<number>, growth = 1): void {
  const c = compareToReference(got, expected, forwardTolerance(expected, growth));
  expect(c.ok, describeComparison(what, c)).toBe(true);
}

/** ŷ and h against float64, with the linear cell's √T-wider tolerance (see the top of the file). */
function expectOutputsClose(cell: CellKind, got: Awaited<ReturnType<typeof runForwardGpu>>, ref: ReturnType<typeof referenceForward>, layout: ParamLayout, B: number, T: number): void {
  const growth = cell === 'linear' ? Math.sqrt(T) : 1;
  expectClose('ŷ', got.yhat, ref.yHat, growth);
  expectClose('h', storedH(got.stored, layout, B, T), ref.h, growth);
}

/** Hidden states [B, T, H] out of the stored-state buffer [T, B, W, H]. */
function storedH(stored: Float32Array, layout: ParamLayout, batch: number, slots: number): Float32Array {
  const H = layout.config.hiddenSize;
  const W = stateWidth(layout.config.cell);
  const h = new Float32Array(batch * slots * H);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < slots; t++) h.set(stored.subarray(((t * batch + b) * W) * H, ((t * batch + b) * W + 1) * H), (b * slots + t) * H);
  }
  return h;
}

type Case = [string, CellKind, boolean, boolean, 'plain' | 'saturated'];
const cases: Case[] = CELL_KINDS.flatMap((cell) =>
  layerNormChoices(cell).flatMap((layernorm) =>
    [false, true].map((orthogonal): Case => [`${cell} ln=${layernorm} ${orthogonal ? 'orthogonal' : 'default'} init`, cell, layernorm, orthogonal, 'plain']),
  ),
);
cases.push(...GATED_CELL_KINDS.filter((c) => c !== 'const').map((cell): Case => [`${cell} with saturated gates`, cell, true, true, 'saturated']));

describe.each(cases)('forward: %s', (_name, cell, layernorm, orthogonal, gates) => {
  it('ŷ, h (and c) and the SPEC §4 terms match float64 at B=3 T=37 H=20 D=5', async () => {
    const [B, T, H, D] = [3, 37, 20, 5];
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm });
    const params = initParams(layout, { seed: 11, orthogonal });
    if (gates === 'saturated') saturateGates(layout, params);
    const p32 = Float32Array.from(params);
    const x = gaussianInputs(B, T, D, 3);
    const ref = referenceForward(layout, p32, { x, batch: B, steps: T });
    const got = await runForwardGpu(gpu.ctx, layout, p32, x, B, T);
    expectOutputsClose(cell, got, ref, layout, B, T);
    INTERMEDIATE_NAMES[cell].forEach((name, n) => {
      expectClose(name, got.inter.subarray(n * B * T * H, (n + 1) * B * T * H), ref.intermediates[name]!);
    });
  });
});

describe('forward: sizes and dispatch chunks', () => {
  it.each(CELL_KINDS)('%s: H=32 (a whole sequence tile), B=9 (two workgroups), T=70 (two dispatches)', async (cell) => {
    const [B, T, H, D] = [9, 70, 32, 4];
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true) });
    const p32 = Float32Array.from(initParams(layout, { seed: 2 }));
    const x = gaussianInputs(B, T, D, 4);
    const ref = referenceForward(layout, p32, { x, batch: B, steps: T });
    const got = await runForwardGpu(gpu.ctx, layout, p32, x, B, T);
    expectOutputsClose(cell, got, ref, layout, B, T);
  });

  it.each(['gru', 'lstm'] as const)('%s: split calls continue from the carried state and checkpoints keep every k-th state', async (cell) => {
    const [B, T, H, D] = [2, 45, 12, 3];
    const every = 9;
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: false });
    const p32 = Float32Array.from(initParams(layout, { seed: 8 }));
    const x = gaussianInputs(B, T, D, 6);
    const whole = await runForwardGpu(gpu.ctx, layout, p32, x, B, T, { every: 1 });
    const split = await runForwardGpu(gpu.ctx, layout, p32, x, B, T, { every, ranges: [[0, 17], [17, 30], [30, 45]] });
    expect([...split.yhat]).toEqual([...whole.yhat]);
    const W = stateWidth(cell);
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < T / every; k++) {
        const t = (k + 1) * every - 1;
        const expected = whole.stored.subarray(((t * B + b) * W) * H, ((t * B + b) * W + W) * H);
        const got = split.stored.subarray(((k * B + b) * W) * H, ((k * B + b) * W + W) * H);
        expect([...got], `sequence ${b}, checkpoint ${k} (state after step ${t})`).toEqual([...expected]);
      }
    }
    expect([...split.state]).toEqual([...whole.state]);
  });
});
