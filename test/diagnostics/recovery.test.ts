// Lag recovery ĉ(ℓ) (SPEC §12) from the GPU input tangent against central differences of the float64 reference:
// perturb x_s by ±ε·u, read ŷ_{s+ℓ}. Tolerance: the tangent is f32 (≈1e-6 of the response's scale, as the tangent
// tests show) and the float64 difference quotient has O(ε²) truncation at ε = 1e-4 (≈1e-8): 1e-4 of the largest |ĉ|
// plus 1e-4 relative is far above both and far below a wrong lag (a one-step shift changes ĉ by O(its size)).
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { gaussianInputs } from '../support/cells.ts';
import { buildLayout, initParams, CELL_KINDS, cellLayerNorm } from '../../src/model/index.ts';
import { referenceForward } from '../../src/reference/cells/index.ts';
import { lagRecovery, recoveryPlan } from '../../src/diagnostics/recovery.ts';

const gpu = useGpu();

describe.each(CELL_KINDS)('lag recovery: %s', (cell) => {
  it('ĉ(ℓ) equals the float64 mean impulse response u·∂ŷ_{s+ℓ}/∂x_s', async () => {
    const [P, T, D, H, lagMax] = [2, 20, 3, 10, 9];
    const starts = [0, 3, 7];
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true) });
    const params = Float32Array.from(initParams(layout, { seed: 3 }));
    const x = gaussianInputs(P, T, D, 8);
    const u = [0.6, -0.48, 0.64];
    const buffer = gpu.ctx.upload('test/P', params);
    const got = await lagRecovery(gpu.ctx, layout, buffer, { x, count: P, steps: T, inputSize: D, starts }, u, lagMax);
    buffer.destroy();

    const eps = 1e-4;
    const expected = new Float64Array(lagMax);
    const counts = new Float64Array(lagMax);
    for (let p = 0; p < P; p++) {
      for (const s of starts) {
        const base = Float64Array.from(x.subarray(p * T * D, (p + 1) * T * D));
        const shifted = (sign: number) => {
          const xs = Float64Array.from(base);
          for (let d = 0; d < D; d++) xs[s * D + d]! += sign * eps * u[d]!;
          return referenceForward(layout, params, { x: xs, batch: 1, steps: T }).yHat;
        };
        const plus = shifted(1);
        const minus = shifted(-1);
        for (let ell = 1; ell <= lagMax && s + ell < T; ell++) {
          expected[ell - 1]! += (plus[s + ell]! - minus[s + ell]!) / (2 * eps);
          counts[ell - 1]!++;
        }
      }
    }
    const ref = expected.map((v, i) => v / counts[i]!);
    const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    ref.forEach((e, i) => expect(Math.abs(got[i]! - e), `ĉ(${i + 1}): gpu ${got[i]}, float64 ${e}`).toBeLessThanOrEqual(1e-4 * scale + 1e-4 * Math.abs(e)));
  });
});

describe('lag recovery in chunks', () => {
  it('rows streamed two at a time give the same ĉ(ℓ) as one chunk (each row alone, sums in row order)', async () => {
    const [P, T, D, H, lagMax] = [3, 20, 3, 10, 9];
    const starts = [0, 3, 7];
    const layout = buildLayout({ cell: 'gru', inputSize: D, hiddenSize: H, layernorm: true });
    const buffer = gpu.ctx.upload('test/P', Float32Array.from(initParams(layout, { seed: 3 })));
    const probe = { x: gaussianInputs(P, T, D, 8), count: P, steps: T, inputSize: D, starts };
    const perRow = recoveryPlan(layout, T).bytesPerSequence;
    const u = [0.6, -0.48, 0.64];
    const whole = await lagRecovery(gpu.ctx, layout, buffer, probe, u, lagMax);
    const chunked = await lagRecovery(gpu.ctx, layout, buffer, probe, u, lagMax, { memoryBudget: 2 * perRow });
    buffer.destroy();
    expect([...chunked]).toEqual([...whole]);
    expect(whole.every(Number.isFinite)).toBe(true);
  });
});
