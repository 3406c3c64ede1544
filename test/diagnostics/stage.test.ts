// The diagnostic stage end to end (forward, tangent, δ, ρ, windows, ψ, transport) against a float64 chain built
// from the reference cells, streamed in batches smaller than the set.
//
// Tolerances: the GPU's inputs to the windows (SPEC §4 terms, v, δ) come from f32 recurrences that agree with
// float64 to ~1e-6 relative of their scale (see the forward and tangent tests); a window of ℓ factors carries ℓ such
// errors, so envelopes agree to ~ℓ·1e-6 relative: 1e-4 leaves a wide margin. ψ sums mix signs, so they are held to
// 1e-4 of Σ|terms| (the reference's magnitude), not of their own value.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { buildLayout, initParams, type CellKind } from '../../src/model/index.ts';
import { MultiLagTask } from '../../src/data/task.ts';
import { referenceDiagnosticStage } from '../../src/reference/diagnostics/stage.ts';
import { runDiagnostics } from '../../src/diagnostics/stage.ts';
import { diagnosticsFromJSON, diagnosticsToJSON } from '../../src/diagnostics/result.ts';
import { Rng } from '../../src/util/random.ts';
import { deriveSeed } from '../../src/data/seeds.ts';
import { exactTransport, sampleTransportPairs } from '../../src/diagnostics/transport.ts';

const gpu = useGpu();
const lags = [1, 2, 5, 11];

function fixture(cell: CellKind) {
  const task = new MultiLagTask({ steps: 20, inputSize: 3, lags: [2, 5], coeffs: [0.8, -0.5], noiseStd: 0.3, seed: 7 });
  const data = task.diagnosticSet(5);
  const layout = buildLayout({ cell, inputSize: 3, hiddenSize: 8, layernorm: true });
  const params = Float32Array.from(initParams(layout, { seed: 5 }));
  const rng = new Rng(9);
  const eta = Float64Array.from({ length: layout.trainableSize }, () => 1e-3 / (Math.sqrt(10 ** (-8 * rng.uniform())) + 1e-8));
  return { data, layout, params, eta };
}

function reference(f: ReturnType<typeof fixture>) {
  return referenceDiagnosticStage(f.layout, f.params, f.data, { lags, wSeed: 212, eta: f.eta });
}

describe.each(['gru', 'lstm', 'shared'] as const)('diagnostic stage: %s, 5 sequences in batches of 2', (cell) => {
  it('envelopes, generalized envelope, ψ sums and counts match the float64 chain; JSON round-trips', async () => {
    const f = fixture(cell);
    const ref = reference(f);
    const d = await runDiagnostics(gpu.ctx, f.layout, f.params, f.data, {
      lags, firstOrder: true, batch: 2, wSeed: 212, seed: 1, transportSamples: 3, preconditioner: f.eta, psiSubsample: 40,
    });
    expect(d.memory.batch).toBe(2);
    const pairs = sampleTransportPairs(3, f.data.count, f.data.steps, Math.max(...lags), new Rng(deriveSeed(1, 'transport')));
    const exact = exactTransport(f.layout, f.params, f.data.x, f.data.steps, pairs, lags);
    expect(d.etaBar).toBeCloseTo(ref.etaBar, 12);
    d.perLag.forEach((lag, l) => {
      const r = ref.envelope[l]!;
      expect(Math.abs(lag.muL1Mean - r.muL1Mean), `f̂(${lag.ell})`).toBeLessThanOrEqual(1e-4 * r.muL1Mean);
      expect(Math.abs(lag.logMuL1Mean - r.logMuL1Mean), `log f̂(${lag.ell})`).toBeLessThanOrEqual(1e-4);
      lag.perUnit.forEach((u, q) => expect(Math.abs(u - r.perUnit[q]!), `μ^(${q})(${lag.ell})`).toBeLessThanOrEqual(1e-4 * r.perUnit[q]! + 1e-30));
      expect(Math.abs(lag.generalized!.mean - r.generalizedMean!), `f̃(${lag.ell})`).toBeLessThanOrEqual(1e-4 * r.generalizedMean!);
      let sum = 0;
      let size = 0;
      for (let b = 0; b < f.data.count; b++) {
        for (let t = lag.ell; t < f.data.steps; t++) {
          sum += ref.psi.psi[(l * f.data.count + b) * f.data.steps + t]!;
          size += ref.psi.magnitude[(l * f.data.count + b) * f.data.steps + t]!;
        }
      }
      expect(lag.count).toBe(f.data.count * (f.data.steps - lag.ell));
      expect(Math.abs(lag.psiMean * lag.count - sum), `Σψ(${lag.ell})`).toBeLessThanOrEqual(1e-4 * size);
      expect(lag.psiSign).toBe(sum < 0 ? -1 : 1);
      expect(lag.psiSubsample.length).toBe(Math.min(40, lag.count));
      // Every sampled pair ends at t ≥ max lag, so each lag's f_exact is a positive mean, the float64 chain's own.
      expect(lag.exact, `f_exact(${lag.ell})`).toBe(exact.exactEnvelope[l]);
      expect(lag.exact).toBeGreaterThan(0);
    });
    expect(d.transport!.samples).toBe(3);
    const back = diagnosticsFromJSON(diagnosticsToJSON(d));
    expect(back.perLag[2]!.psiSubsample).toEqual(d.perLag[2]!.psiSubsample);
    expect(back.perLag[1]!.muL1Mean).toBe(d.perLag[1]!.muL1Mean);
  });
});

describe('diagnostic stage: streaming', () => {
  it('batch size does not change the results beyond rounding of the per-batch sums', async () => {
    const f = fixture('gru');
    const opts = { lags, firstOrder: true, wSeed: 212, seed: 1, transportSamples: 0, psiSubsample: 50 };
    const small = await runDiagnostics(gpu.ctx, f.layout, f.params, f.data, { ...opts, batch: 1 });
    const whole = await runDiagnostics(gpu.ctx, f.layout, f.params, f.data, { ...opts, batch: 5 });
    small.perLag.forEach((lag, l) => {
      const w = whole.perLag[l]!;
      expect(Math.abs(lag.muL1Mean - w.muL1Mean)).toBeLessThanOrEqual(1e-6 * w.muL1Mean);
      expect(Math.abs(lag.psiMean - w.psiMean)).toBeLessThanOrEqual(1e-6 * Math.abs(w.psiMean) + 1e-12);
      expect([...lag.psiSubsample]).toEqual([...w.psiSubsample]); // same samples, same selection stream
    });
    expect(small.memory.peakBytes).toBeLessThan(whole.memory.peakBytes);
  });

  it('the batch follows from the memory budget', async () => {
    // const, H=8, D=3, T=20, L=4, zeroth order, no ρ; bytes per sequence, counted by hand from the buffers:
    //   per step 4·(3 terms·H + v, δ: 2H + ψ: L + x: D + y, ŷ, ŷ̇: 3) = 4·50, times T = 4000; states h (H) and h, v (2H): 96;
    //   windows: prefix 8·1·(T+1)·H = 1344, partial sums 8·L·H = 256. In all 5696.
    const perSequence = 5696;
    const f = fixture('const');
    const d = await runDiagnostics(gpu.ctx, f.layout, f.params, f.data, {
      lags, firstOrder: false, wSeed: 212, seed: 1, transportSamples: 0, memoryBudget: 3 * perSequence + 100,
    });
    expect(d.memory.perSequence).toBe(perSequence);
    expect(d.memory.batch).toBe(3);
  });
});
