// The fused window kernel (window_envelope's ψ variant, through recordBatch's `psi` option) against the separate
// kernels it replaces (window_envelope, then window_psi through recordPsi): it visits the same (t, q) per thread in
// the same order and reduces in the same trees, so ψ and the envelope accumulators must agree bit for bit.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { gaussianInputs, runForwardGpu } from '../support/cells.ts';
import { buildLayout, initParams, cellLayerNorm, type CellKind } from '../../src/model/index.ts';
import { Rng } from '../../src/util/random.ts';
import { WindowEngine } from '../../src/diagnostics/windows.ts';

const gpu = useGpu();
const [B, T, D] = [3, 41, 4];
const LAGS = [1, 3, 8, 33, 40];

function randomArray(n: number, seed: number, draw: (rng: Rng) => number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => draw(rng));
}

/** ψ [L, B, T] and the envelope table of one batch, fused or by the two separate kernels. */
async function run(cell: CellKind, H: number, useRho: boolean, fused: boolean) {
  const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true) });
  const params = initParams(layout, { seed: 5, orthogonal: true });
  const { inter } = await runForwardGpu(gpu.ctx, layout, Float32Array.from(params), gaussianInputs(B, T, D, 9), B, T);
  const ctx = gpu.ctx;
  const engine = new WindowEngine(ctx, { cell, batch: B, steps: T, hidden: H, lags: LAGS, firstOrder: true, withRho: true });
  const b = {
    inter: ctx.upload('test/intermediates', inter),
    rho: ctx.upload('test/rho', randomArray(B * T * H, 1, (r) => 1e-3 * (0.25 + 1.5 * r.uniform()))),
    delta: ctx.upload('test/delta', randomArray(B * T * H, 2, (r) => r.normal())),
    v: ctx.upload('test/v', randomArray(B * T * H, 3, (r) => r.normal())),
    psi: ctx.storage('test/psi', LAGS.length * B * T * 4),
  };
  try {
    const step = ctx.step('test fused windows');
    if (fused) {
      engine.recordBatch(step, b.inter, B, b.rho, { psi: { delta: b.delta, v: b.v, psi: b.psi, useRho } });
    } else {
      engine.recordBatch(step, b.inter, B, b.rho);
      engine.recordPsi(step, b.delta, b.v, b.psi, B, { useRho });
    }
    const psi = step.readF32(b.psi);
    await step.submit();
    return { psi: await psi, table: await engine.result(1e-3) };
  } finally {
    engine.destroy();
    for (const buffer of Object.values(b)) buffer.destroy();
  }
}

describe('fused window kernel (envelope and ψ from one μ)', () => {
  // H = 20: one chunk of 32 lanes; H = 70: three chunks, the last partial.
  it.each([
    ['gru', 20, false],
    ['gru', 70, true],
    ['lstm', 70, false],
    ['lstm', 20, true],
    ['diag', 70, true],
    ['linear', 20, false],
  ] as [CellKind, number, boolean][])('%s H=%i, ψ with ρ: %s — same bits as window_envelope + window_psi', async (cell, H, useRho) => {
    const separate = await run(cell, H, useRho, false);
    const fused = await run(cell, H, useRho, true);
    expect(fused.psi.some((x) => x !== 0)).toBe(true);
    expect(Array.from(fused.psi)).toEqual(Array.from(separate.psi));
    expect(fused.table).toEqual(separate.table);
  });

  it('refuses ψ with ρ when the batch has no ρ', () => {
    const engine = new WindowEngine(gpu.ctx, { cell: 'gru', batch: 1, steps: 4, hidden: 2, lags: [1], firstOrder: true });
    const buf = (n: number) => gpu.ctx.storage('test/x', n * 4);
    const [inter, delta, v, psi] = [buf(4 * 4 * 2), buf(4 * 2), buf(4 * 2), buf(4)];
    try {
      expect(() => engine.recordBatch(gpu.ctx.step('refuse'), inter, 1, undefined, { psi: { delta, v, psi, useRho: true } })).toThrow(/ψ with useRho needs ρ/);
    } finally {
      engine.destroy();
      for (const b of [inter, delta, v, psi]) b.destroy();
    }
  });
});
