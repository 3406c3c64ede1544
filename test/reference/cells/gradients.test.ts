// BPTT gradients and forward-mode tangents of the float64 cells against central finite differences, and the
// backward/tangent cross-check ⟨∇L, w⟩ = dL/dθ[w].
//
// Step and tolerance. A float64 central difference (f(θ+h) - f(θ-h)) / 2h has truncation error h²|f'''|/6 and
// rounding error about ε|f|/h (ε = 2.2e-16). Parameters, states and losses here are O(1), so with h = 1e-5 both are
// near 1e-11 (the optimum h ≈ (3ε)^{1/3} ≈ 1e-5). We allow |fd - exact| ≤ 1e-6 |exact| + 1e-9: the relative part
// leaves room for |f'''| up to ~1e4 (LayerNorm and saturated gates raise it), and the 1e-9 floor covers components
// that are exactly or nearly zero (padding, gates with σ' ≈ 2.5e-3), still 100× above the expected error. A wrong
// formula shows up as an O(1) relative error.
import { describe, it, expect } from 'vitest';
import { TensorViews, stateWidth } from '../../../src/model/index.ts';
import { referenceBackward, referenceForward, referenceTangent } from '../../../src/reference/cells/index.ts';
import { allCases, expectClose, makeFixture, randomDirection, SIZES, type CellCase } from './cases.ts';

const STEP = 1e-5;
const RTOL = 1e-6;
const ATOL = 1e-9;

function lossAt(c: CellCase, params: Float64Array): number {
  const { layout, data } = makeFixture(c);
  return referenceForward(layout, params, data).loss!;
}

describe.each(allCases())('$name', (c) => {
  const { layout, params, data } = makeFixture(c);

  it('gradient matches central differences on every parameter', () => {
    const { grad, loss } = referenceBackward(layout, params, data);
    expect(loss).toBeCloseTo(referenceForward(layout, params, data).loss!, 14);
    const numeric = new Float64Array(layout.totalSize);
    for (const t of layout.tensors) {
      if (!t.trainable) continue;
      for (let i = t.offset; i < t.offset + t.size; i++) {
        const plus = Float64Array.from(params);
        const minus = Float64Array.from(params);
        plus[i] = plus[i]! + STEP;
        minus[i] = minus[i]! - STEP;
        numeric[i] = (lossAt(c, plus) - lossAt(c, minus)) / (2 * STEP);
      }
    }
    expectClose(`${c.name} ∂L/∂θ (index into the layout)`, grad, numeric, RTOL, ATOL);
  });

  it('non-trainable tensors and padding get gradient 0', () => {
    const { grad } = referenceBackward(layout, params, data);
    const trainable = new Uint8Array(layout.totalSize);
    for (const t of layout.tensors) if (t.trainable) trainable.fill(1, t.offset, t.offset + t.size);
    const offenders = [...grad.keys()].filter((i) => !trainable[i] && grad[i] !== 0);
    expect(offenders, 'layout indices outside trainable tensors with a nonzero gradient').toEqual([]);
  });

  it('tangent v_t matches directional central differences of h_t (and c_t)', () => {
    const w = randomDirection(layout, 99);
    const { v, vc, yHatDot } = referenceTangent(layout, params, data, w);
    const plus = referenceForward(layout, params.map((p, i) => p + STEP * w[i]!), data);
    const minus = referenceForward(layout, params.map((p, i) => p - STEP * w[i]!), data);
    const diff = (a: Float64Array, b: Float64Array) => a.map((x, i) => (x - b[i]!) / (2 * STEP));
    expectClose(`${c.name} v = dh/dθ[w] ([B,T,H] index)`, v, diff(plus.h, minus.h), RTOL, ATOL);
    if (stateWidth(c.cell) === 2) expectClose(`${c.name} dc/dθ[w]`, vc!, diff(plus.c!, minus.c!), RTOL, ATOL);
    else expect(vc).toBeNull();
    expectClose(`${c.name} dŷ/dθ[w] ([B,T] index)`, yHatDot, diff(plus.yHat, minus.yHat), RTOL, ATOL);
  });

  it('⟨∇L, w⟩ equals the loss derivative assembled from δ_t · v_t (SPEC §7)', () => {
    const w = randomDirection(layout, 123);
    const { grad } = referenceBackward(layout, params, data);
    const forward = referenceForward(layout, params, data);
    const { v } = referenceTangent(layout, params, data, w);
    const p = new TensorViews(layout, params);
    const dir = new TensorViews(layout, w);
    const outW = p.get('out.weight');
    const { batch, steps, hidden } = SIZES;
    // L = mean (ŷ - y)²  ⇒  dL[w] = (2/BT) Σ_{b,t} [ δ_t·v_t + (ŷ_t - y_t)(ẇ_out·h_t + ḃ_out) ],  δ_t = (ŷ_t - y_t) out.weight.
    let fromTangent = 0;
    let magnitude = 0;
    for (let row = 0; row < batch * steps; row++) {
      const err = forward.yHat[row]! - data.y[row]!;
      let term = err * dir.get('out.bias')[0]!;
      for (let q = 0; q < hidden; q++) {
        term += err * outW[q]! * v[row * hidden + q]! + err * dir.get('out.weight')[q]! * forward.h[row * hidden + q]!;
      }
      fromTangent += (2 / (batch * steps)) * term;
      magnitude += Math.abs((2 / (batch * steps)) * term);
    }
    const fromGradient = grad.reduce((s, g, i) => s + g * w[i]!, 0);
    // Both are exact; they differ only by rounding in sums of O(100) terms.
    expectClose(`${c.name} ⟨∇L, w⟩ vs tangent`, [fromGradient], [fromTangent], 0, 1e-13 * Math.max(1, magnitude));
  });
});
