// GPU tangent recurrence (SPEC §7: v_t = (dh_t/dθ)[w], ŷ̇_t) against the float64 twin for every cell × LayerNorm × init.
//
// Tolerance |gpu - ref| ≤ 2e-5·(scale + |ref|), scale = the largest |ref| in the same row: the H units of one
// (sequence, step) for v and ċ, the T steps of one sequence for ŷ̇. Why a row scale and not |ref| alone: each v_t,q
// is a sum over the whole row v_{t-1} (U v) plus U̇ h_{t-1} + Ẇ x_t + ḃ, and f32 rounds such a sum to within
// γ_{D+2H+1}·Σ|terms| ≈ 3e-6·Σ|terms| at H=20 (LayerNorm's JVP also subtracts row means), so a unit's error follows
// the row's magnitude, not its own: units that cancel to near zero show relative errors up to 3e-2 while staying
// near 1e-6 of the row. Errors of earlier steps travel through the same Jacobians as v itself, so they stay in
// proportion to it over T instead of piling up in absolute terms.
// Observed worst over all cases: about 2e-6 of the row for v and ċ, 1e-6 for ŷ̇ (error/tolerance ≤ 0.05). A missing
// or wrong term (a direction tensor, LayerNorm's γ̇ n̂, the reset state's r ⊙ v) moves values by more than 1e-2 of
// the row (error/tolerance in the thousands).
import { describe, expect, it, vi } from 'vitest';
import { tangentWorkgroupFloats } from '../../shaders/recurrence/tangent.ts';
import { defaultTile, deviceHolds, deviceUnroll } from '../../src/cells/tiles.ts';
import { useGpu } from '../support/gpu.ts';
import { gaussianInputs, saturateGates } from '../support/cells.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { buildLayout, initParams, maskTrainable, CELL_KINDS, type CellKind, type ParamLayout, GATED_CELL_KINDS, cellLayerNorm, layerNormChoices, stateWidth } from '../../src/model/index.ts';
import { referenceTangent } from '../../src/reference/cells/index.ts';
import { unitDirection } from '../../src/reference/direction.ts';
import { compareToReference, describeComparison } from '../../src/reference/compare.ts';
import { recordTangent } from '../../src/cells/tangent.ts';
import { tangentStateWidth } from '../../shaders/recurrence/tangent.ts';
import { tangentRowTolerance } from '../../src/doctor/tolerances.ts';

const gpu = useGpu();

function expectClose(what: string, got: ArrayLike<number>, expected: ArrayLike<number>, rowLength: number): void {
  const c = compareToReference(got, expected, tangentRowTolerance(expected, rowLength));
  expect(c.ok, describeComparison(what, c)).toBe(true);
}

/** `w` with 1e3 on every element outside the trainable tensors (s_const, padding), which the kernels must not read. */
function withJunkOutsideTrainable(layout: ParamLayout, w: Float32Array): Float32Array {
  const trainable = Float32Array.from(w, () => 1);
  maskTrainable(layout, trainable);
  return Float32Array.from(w, (v, i) => (trainable[i] ? v : 1e3));
}

interface GpuTangentResult {
  /** [B, T, H]. */
  v: Float32Array;
  /** [B, T, H] for lstm, else empty. */
  vc: Float32Array;
  /** [B, T]. */
  yhatDot: Float32Array;
  /** Final state [B, 2W, H]. */
  state: Float32Array;
}

async function runTangentGpu(
  ctx: GpuContext,
  layout: ParamLayout,
  params: Float32Array,
  direction: Float32Array,
  x: Float32Array,
  batch: number,
  steps: number,
  options: { ranges?: [number, number][]; cellTangent?: boolean } = {},
): Promise<GpuTangentResult> {
  const { cell, hiddenSize: H } = layout.config;
  const withVc = stateWidth(cell) === 2 && (options.cellTangent ?? true);
  const b = {
    params: ctx.upload('test/P', params),
    direction: ctx.upload('test/Pd', direction),
    x: ctx.upload('test/x', x),
    state: ctx.storage('test/state', batch * tangentStateWidth(cell) * H * 4),
    v: ctx.storage('test/v', batch * steps * H * 4),
    vc: ctx.storage('test/vc', (withVc ? batch * steps * H : 1) * 4),
    yhatDot: ctx.storage('test/yhatDot', batch * steps * 4),
  };
  try {
    const step = ctx.step('test tangent');
    step.clear(b.state);
    for (const range of options.ranges ?? [[0, steps]]) {
      recordTangent(step, {
        layout, params: b.params, direction: b.direction, x: b.x, batch, steps, state: b.state,
        v: b.v, cellTangent: withVc ? b.vc : undefined, yhatDot: b.yhatDot, range,
      });
    }
    const reads = [b.v, b.vc, b.yhatDot, b.state].map((buf) => step.readF32(buf));
    await step.submit();
    const [v, vc, yhatDot, state] = await Promise.all(reads);
    return { v: v!, vc: withVc ? vc! : new Float32Array(0), yhatDot: yhatDot!, state: state! };
  } finally {
    for (const buf of Object.values(b)) buf.destroy();
  }
}

async function checkAgainstReference(
  cell: CellKind, layernorm: boolean, orthogonal: boolean, sizes: { B: number; T: number; H: number; D: number }, seed: number, saturated = false,
) {
  const { B, T, H, D } = sizes;
  const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm });
  const params = initParams(layout, { seed, orthogonal });
  if (saturated) saturateGates(layout, params);
  const p32 = Float32Array.from(params);
  const w = unitDirection(layout, seed + 100);
  const x = gaussianInputs(B, T, D, seed + 200);
  const ref = referenceTangent(layout, p32, { x, batch: B, steps: T }, w);
  const got = await runTangentGpu(gpu.ctx, layout, p32, withJunkOutsideTrainable(layout, w), x, B, T);
  expectClose('v', got.v, ref.v, H);
  if (ref.vc) expectClose('ċ', got.vc, ref.vc, H);
  expectClose('ŷ̇', got.yhatDot, ref.yHatDot, T);
}

type Case = [string, CellKind, boolean, boolean];
const cases: Case[] = CELL_KINDS.flatMap((cell) =>
  layerNormChoices(cell).flatMap((layernorm) =>
    [false, true].map((orthogonal): Case => [`${cell} ln=${layernorm} ${orthogonal ? 'orthogonal' : 'default'} init`, cell, layernorm, orthogonal]),
  ),
);

describe.each(cases)('tangent: %s', (_name, cell, layernorm, orthogonal) => {
  it('v (and ċ) and ŷ̇ match float64 at B=3 T=37 H=20 D=5', async () => {
    await checkAgainstReference(cell, layernorm, orthogonal, { B: 3, T: 37, H: 20, D: 5 }, 11);
  });
});

describe('tangent: gates near 0 and 1', () => {
  it.each(GATED_CELL_KINDS.filter((c) => c !== 'const'))('%s with saturated gates matches float64', async (cell) => {
    await checkAgainstReference(cell, true, true, { B: 3, T: 37, H: 20, D: 5 }, 13, true);
  });
});

describe('tangent: sizes and dispatch chunks', () => {
  // x is read from storage at every step (it was staged in workgroup memory, D ≤ 64, before).
  it.each(['gru', 'lstm', 'torch_gru', 'diag'] as CellKind[])('%s: D=130 inputs', async (cell) => {
    await checkAgainstReference(cell, cellLayerNorm(cell, true), true, { B: 3, T: 9, H: 20, D: 130 }, 5);
  });

  // H > 256 on the training kernels' default tile: two units per thread at H=300 (212 idle unit slots), four at
  // H=520 (the K of H up to 1024; its 16 KiB of workgroup memory, hbuf, abuf, red and vbuf, at H=1024 by
  // tangentWorkgroupFloats). gru's ubuf shares red's memory.
  it.each(['gru', 'lstm', 'torch_gru', 'rnn'] as CellKind[])('%s: H=300 (two units per thread)', async (cell) => {
    await checkAgainstReference(cell, cellLayerNorm(cell, true), true, { B: 2, T: 4, H: 300, D: 7 }, 3);
  });

  it.each(['rnn', 'linear'] as CellKind[])('%s: H=520 (four units per thread)', async (cell) => {
    await checkAgainstReference(cell, false, true, { B: 1, T: 3, H: 520, D: 3 }, 4);
  });

  it('fits the tile of H = 1024 in WebGPU\'s default 16 KiB of workgroup memory', () => {
    expect(tangentWorkgroupFloats(defaultTile(1024))).toBe(4096);
  });

  it.each(CELL_KINDS)('%s: H=32 (a whole sequence tile), B=9 (two workgroups), T=70 (two dispatches)', async (cell) => {
    await checkAgainstReference(cell, cellLayerNorm(cell, true), true, { B: 9, T: 70, H: 32, D: 4 }, 2);
  });

  // Without the ċ output (the other lstm variant); the final state still carries ċ (its last H words per sequence).
  it.each(CELL_KINDS)('%s: split calls continue from the carried state (h, c and their tangents)', async (cell) => {
    const [B, T, H, D] = [2, 45, 12, 3];
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true) });
    const p32 = Float32Array.from(initParams(layout, { seed: 8 }));
    const w = unitDirection(layout, 9);
    const x = gaussianInputs(B, T, D, 6);
    const whole = await runTangentGpu(gpu.ctx, layout, p32, w, x, B, T, { cellTangent: false });
    const split = await runTangentGpu(gpu.ctx, layout, p32, w, x, B, T, { cellTangent: false, ranges: [[0, 17], [17, 30], [30, 45]] });
    expect([...split.v]).toEqual([...whole.v]);
    expect([...split.yhatDot]).toEqual([...whole.yhatDot]);
    expect([...split.state]).toEqual([...whole.state]);
  });

  // GPUs unroll the dot products 8 steps per pass (this adapter: 1); the multiply-adds keep their order, so v, ċ and
  // ŷ̇ are the same bits. H = 20 takes two passes and four single steps, D = 3 single steps only.
  it.each(['gru', 'lstm'] as CellKind[])('%s: dot products unrolled 8 steps per pass, and weights streamed, give the same bits', async (cell) => {
    const [B, T, H, D] = [3, 11, 20, 3];
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true) });
    const p32 = Float32Array.from(initParams(layout, { seed: 4 }));
    const w = unitDirection(layout, 5);
    const x = gaussianInputs(B, T, D, 6);
    expect(deviceUnroll(gpu.ctx.device)).toBe(1);
    // This adapter holds the forward step's weights (shaders/cells/held-weights.ts); streamed, the same bits too.
    expect(deviceHolds(gpu.ctx.device, { H, D })).toBe(true);
    const rolled = await runTangentGpu(gpu.ctx, layout, p32, w, x, B, T);
    try {
      vi.stubEnv('LWIN_HOLD', '0');
      const streamed = await runTangentGpu(gpu.ctx, layout, p32, w, x, B, T);
      vi.stubEnv('LWIN_UNROLL', '8');
      expect(deviceUnroll(gpu.ctx.device)).toBe(8);
      const unrolled = await runTangentGpu(gpu.ctx, layout, p32, w, x, B, T);
      for (const [name, got] of [['streamed', streamed], ['unrolled', unrolled]] as const) {
        expect([...got.v], `${name}: v`).toEqual([...rolled.v]);
        expect([...got.vc], `${name}: vc`).toEqual([...rolled.vc]);
        expect([...got.yhatDot], `${name}: ŷ̇`).toEqual([...rolled.yhatDot]);
      }
    } finally {
      vi.unstubAllEnvs();
    }
    // Three forms of a big kernel for LLVM to compile: lstm's took 33 s alone with a cold shader cache, up to ~3×
    // that beside the suite's other worker.
  }, 300_000);

  // By columns (this adapter's default, as the training kernels read) P and the direction Pd are read from copies
  // made per call; by rows (LWIN_WEIGHTS=rows) as they are. The same sums in the same order: the same bits, held or
  // streamed. One-row matrices (shared's scalar gate) and per-unit entries stay as they are in both.
  it.each(['const', 'shared', 'gru', 'lstm', 'torch_gru'] as CellKind[])('%s: weights and direction by columns and by rows give the same bits', async (cell) => {
    const [B, T, H, D] = [3, 7, 12, 5];
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true) });
    const p32 = Float32Array.from(initParams(layout, { seed: 4 }));
    const w = withJunkOutsideTrainable(layout, unitDirection(layout, 5));
    const x = gaussianInputs(B, T, D, 6);
    const runs: [string, GpuTangentResult][] = [];
    try {
      for (const [weights, hold] of [['columns', '1'], ['rows', '0']]) {
        vi.stubEnv('LWIN_WEIGHTS', weights!);
        vi.stubEnv('LWIN_HOLD', hold!);
        runs.push([`${weights}, hold ${hold}`, await runTangentGpu(gpu.ctx, layout, p32, w, x, B, T)]);
      }
    } finally {
      vi.unstubAllEnvs();
    }
    const [, base] = runs[0]!;
    expect(base.v.some((v) => v !== 0)).toBe(true);
    for (const [name, got] of runs.slice(1)) {
      expect([...got.v], `${name}: v`).toEqual([...base.v]);
      expect([...got.vc], `${name}: vc`).toEqual([...base.vc]);
      expect([...got.yhatDot], `${name}: ŷ̇`).toEqual([...base.yhatDot]);
    }
  });

  // GPUs sum the dot products in 8 partials (src/cells/tiles.ts devicePartials; this adapter: 1): another order,
  // as close to float64; held and streamed weights, rolled and unrolled loops, then give the same bits as each other
  // (checked for shared alone: the partial loops compile slowly on lavapipe, and the forms are the training tiles',
  // compared bit for bit for every cell in test/cells/split-tiles.test.ts).
  it.each(['gru', 'shared'] as CellKind[])('%s: 8 partial sums (a GPU\'s) match float64', async (cell) => {
    try {
      vi.stubEnv('LWIN_PARTIALS', '8');
      await checkAgainstReference(cell, cellLayerNorm(cell, true), true, { B: 3, T: 37, H: 20, D: 5 }, 11);
      if (cell !== 'shared') return;
      const [B, T, H, D] = [3, 11, 20, 3];
      const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true) });
      const p32 = Float32Array.from(initParams(layout, { seed: 4 }));
      const w = unitDirection(layout, 5);
      const x = gaussianInputs(B, T, D, 6);
      const held = await runTangentGpu(gpu.ctx, layout, p32, w, x, B, T);
      vi.stubEnv('LWIN_HOLD', '0');
      const streamed = await runTangentGpu(gpu.ctx, layout, p32, w, x, B, T);
      vi.stubEnv('LWIN_UNROLL', '8');
      const unrolled = await runTangentGpu(gpu.ctx, layout, p32, w, x, B, T);
      for (const [name, got] of [['streamed', streamed], ['unrolled', unrolled]] as const) {
        expect([...got.v], `${name}: v`).toEqual([...held.v]);
        expect([...got.yhatDot], `${name}: ŷ̇`).toEqual([...held.yhatDot]);
      }
    } finally {
      vi.unstubAllEnvs();
    }
  }, 240_000);

  it('refuses a cell-state tangent buffer for a cell without a cell state', () => {
    const layout = buildLayout({ cell: 'gru', inputSize: 2, hiddenSize: 4, layernorm: false });
    const dummy = gpu.ctx.storage('test/dummy', 16);
    try {
      const call = { layout, params: dummy, direction: dummy, x: dummy, batch: 1, steps: 1, state: dummy, v: dummy, yhatDot: dummy };
      expect(() => recordTangent(gpu.ctx.step('test refusal'), { ...call, cellTangent: dummy })).toThrow(/only lstm and torch_lstm have a cell state/);
    } finally {
      dummy.destroy();
    }
  });
});
