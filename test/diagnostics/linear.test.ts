// The linear cell's diagnostics against their closed forms (SPEC §12), computed here from the weights alone:
//   μ_{t,q}(ℓ) = (Wh_qq)^ℓ (signed, for every sequence and window end; no first-order term),
//   f̂(ℓ) = mean_q |Wh_qq|^ℓ, μ^(q)(ℓ) = |Wh_qq|^ℓ,
//   exact transport P(ℓ) = Wh^ℓ (so its diagonal is diag(Wh^ℓ)),
//   lag recovery ĉ(ℓ) = out · Wh^ℓ · Wx · u, whatever the probe sequences.
// (With h_t = Wh h_{t-1} + Wx x_t, ŷ_t = out·h_t and ĉ(ℓ) = u·∂ŷ_{s+ℓ}/∂x_s, x_s reaches h_s at once and then
// passes ℓ more steps: out·Wh^ℓ·Wx·u, as SPEC §12 writes it.)
// Wh is set with a signed diagonal spanning slow (0.97) to fast (0.05) decay, so signs, even/odd lags and
// underflow-free small values are all exercised.
//
// Tolerances: the GPU forms w^ℓ from the f32 weight w by binary powering, each product correctly rounded, so its
// relative error is at most (ℓ-1)·2^-24 (to first order); the envelope sums those with compensated f32 sums
// (another few ulp). Transport is float64 on both sides, differing only in the order of the products: 1e-12 of
// the entries' scale. ĉ comes from the f32 tangent recurrence, whose rounding errors Wh carries on undamped: 1e-5
// of max|ĉ| covers ℓ ≤ 23 steps of γ_{D+H}-sized errors with a wide margin, far below a one-lag shift.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { gaussianInputs, runForwardGpu } from '../support/cells.ts';
import { buildLayout, initParams, TensorViews } from '../../src/model/index.ts';
import { runDiagnostics } from '../../src/diagnostics/stage.ts';
import { transportBlocks } from '../../src/diagnostics/transport.ts';
import { lagRecovery } from '../../src/diagnostics/recovery.ts';
import { MultiLagTask } from '../../src/data/task.ts';
import { runWindows } from './window-support.ts';

const gpu = useGpu();
const [D, H, T] = [3, 6, 24];
const LAGS = [1, 2, 3, 4, 7, 12, 20, 23];
const DIAGONAL = [0.97, -0.9, 0.6, -0.45, 0.2, -0.05];
const U = 2 ** -24;

function linearModel() {
  const layout = buildLayout({ cell: 'linear', inputSize: D, hiddenSize: H, layernorm: false });
  const params = Float32Array.from(initParams(layout, { seed: 4, scale: 0.5 }));
  const views = new TensorViews(layout, params);
  const wh = views.get('Wh.weight');
  DIAGONAL.forEach((v, q) => (wh[q * H + q] = v));
  views.get('Wx.bias').set([0.1, -0.2, 0.05, 0, 0.3, -0.1]);
  views.get('out.bias')[0] = 0.25;
  return { layout, params, views };
}

/** Float64 n×n product. */
function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) out[i * n + j]! += a[i * n + k]! * b[k * n + j]!;
  return out;
}

/** Wh^1 … Wh^max in float64 from the f32 weights. */
function powers(wh: Float32Array, max: number): Float64Array[] {
  const base = Float64Array.from(wh);
  const out: Float64Array[] = [base];
  for (let l = 2; l <= max; l++) out.push(matmul(out.at(-1)!, base, H));
  return out;
}

describe('linear cell: diagnostics equal their closed forms (SPEC §12)', () => {
  const { layout, params, views } = linearModel();
  const w: Float64Array = Float64Array.from({ length: H }, (_, q) => views.get('Wh.weight')[q * H + q]!); // the f32 values, exactly

  it.each([false, true])('μ_{t,q}(ℓ) = Wh_qq^ℓ for every sequence and window end, firstOrder=%s', async (firstOrder) => {
    const B = 3;
    const forward = await runForwardGpu(gpu.ctx, layout, params, gaussianInputs(B, T, D, 5), B, T);
    const run = await runWindows(gpu.ctx, { cell: 'linear', batch: B, steps: T, hidden: H, lags: LAGS, firstOrder }, [{ count: B, inter: forward.inter }]);
    expect(run.table.firstOrder, 'the linear cell has no first-order term').toBe(false);
    let worst = 0;
    LAGS.forEach((ell, l) => {
      for (let b = 0; b < B; b++) {
        for (let t = ell; t < T; t++) {
          for (let q = 0; q < H; q++) {
            const got = run.mu[0]![((l * B + b) * T + t) * H + q]!;
            const exact = w[q]! ** ell;
            const error = Math.abs(got - exact) / ((ell - 1) * U * 1.01 * Math.abs(exact) + 1e-37);
            expect(error, `μ(ℓ=${ell}) b=${b} t=${t} q=${q}: gpu ${got}, Wh_qq^ℓ ${exact}`).toBeLessThanOrEqual(1);
            worst = Math.max(worst, error);
          }
        }
      }
    });
    // ℓ = 1 is w itself, bit for bit.
    for (let q = 0; q < H; q++) expect(run.mu[0]![(0 * B * T + 1) * H + q]).toBe(w[q]);
  });

  it('f̂(ℓ), μ^(q)(ℓ) and the log-mass mean from the diagnostic stage; first order changes nothing; transport is Wh^ℓ', async () => {
    const task = new MultiLagTask({ steps: T, inputSize: D, lags: [2, 5], coeffs: [0.8, -0.5], noiseStd: 0.3, seed: 7 });
    const data = task.diagnosticSet(5);
    const options = { lags: LAGS, batch: 2, wSeed: 212, seed: 3, transportSamples: 3 };
    const first = await runDiagnostics(gpu.ctx, layout, params, data, { ...options, firstOrder: true });
    const zeroth = await runDiagnostics(gpu.ctx, layout, params, data, { ...options, firstOrder: false });
    LAGS.forEach((ell, l) => {
      const perUnit = w.map((v) => Math.abs(v) ** ell);
      const envelope = perUnit.reduce((s, v) => s + v, 0) / H;
      const rel = (ell - 1) * U * 1.01 + 4 * U;
      const row = first.perLag[l]!;
      expect(Math.abs(row.muL1Mean - envelope), `f̂(${ell}) = ${row.muL1Mean}, mean_q |Wh_qq|^ℓ = ${envelope}`).toBeLessThanOrEqual(rel * envelope);
      expect(Math.abs(row.logMuL1Mean - Math.log(envelope + 1e-30))).toBeLessThanOrEqual(2 * rel);
      row.perUnit.forEach((v, q) => expect(Math.abs(v - perUnit[q]!), `μ^(${q})(${ell})`).toBeLessThanOrEqual(rel * perUnit[q]! + 1e-37));
      expect(zeroth.perLag[l]!.muL1Mean).toBe(row.muL1Mean);
      expect(zeroth.perLag[l]!.psiMean).toBe(row.psiMean);
    });
    // Exact transport: every sampled pair gives mean_q |diag Wh^ℓ|_q.
    const whPowers = powers(views.get('Wh.weight'), Math.max(...LAGS));
    const exactEnvelope = LAGS.map((ell) => {
      const p = whPowers[ell - 1]!;
      return Array.from({ length: H }, (_, q) => Math.abs(p[q * H + q]!)).reduce((s, v) => s + v, 0) / H;
    });
    first.perLag.map((lag) => lag.exact!).forEach((v, l) => expect(Math.abs(v - exactEnvelope[l]!), `f_exact(${LAGS[l]})`).toBeLessThanOrEqual(1e-12 * exactEnvelope[l]! + 1e-300));
  });

  it('the full exact transport block P(ℓ) is Wh^ℓ, whatever the inputs', () => {
    const x = Float64Array.from(gaussianInputs(1, T, D, 11));
    const blocks = transportBlocks(layout, params, x, T - 1, LAGS);
    const whPowers = powers(views.get('Wh.weight'), Math.max(...LAGS));
    LAGS.forEach((ell, l) => {
      const expected = whPowers[ell - 1]!;
      const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      blocks[l]!.forEach((v, i) => expect(Math.abs(v - expected[i]!), `P(${ell})[${i}]`).toBeLessThanOrEqual(1e-12 * scale));
    });
  });

  it('lag recovery ĉ(ℓ) equals the impulse response out · Wh^ℓ · Wx · u computed from the weights', async () => {
    const lagMax = T - 1;
    const u = [0.6, -0.48, 0.64];
    const probes = 3;
    const x = gaussianInputs(probes, T, D, 12);
    const buffer = gpu.ctx.upload('test/P', params);
    const got = await lagRecovery(gpu.ctx, layout, buffer, { x, count: probes, steps: T, inputSize: D, starts: [0, 1, 5] }, u, lagMax);
    buffer.destroy();
    const wx = views.get('Wx.weight');
    const out = views.get('out.weight');
    let response = Float64Array.from({ length: H }, (_, q) => u.reduce((s, ud, d) => s + wx[q * D + d]! * ud, 0)); // Wx u, then Wh^ℓ Wx u
    const wh = views.get('Wh.weight');
    const impulse: number[] = [];
    for (let ell = 1; ell <= lagMax; ell++) {
      response = Float64Array.from({ length: H }, (_, i) => response.reduce((s, v, j) => s + wh[i * H + j]! * v, 0));
      impulse.push(response.reduce((s, v, q) => s + out[q]! * v, 0));
    }
    const scale = impulse.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    impulse.forEach((e, i) => expect(Math.abs(got[i]! - e), `ĉ(${i + 1}): gpu ${got[i]}, out·Wh^${i + 1}·Wx·u ${e}`).toBeLessThanOrEqual(1e-5 * scale));
  });
});
