// GPU μ windows, envelopes and ψ (SPEC §5, §7) against direct float64 windows (src/reference/diagnostics/windows.ts)
// formed from the same read-back f32 intermediates of the real GPU forward.
//
// Tolerances start from μ's (window-support.ts, muTolerance): 1e-5 of the magnitude of each window's terms, ten times
// inside SPEC §5's 1e-4 contract and about four times the error analysis' bound. Every other value is a sum or mean of
// μ's with f32 weights, so its tolerance is the same sum of the per-window tolerances (weighted by |ρ|, |δ v|), plus
// 1e-6 of its magnitude for the f32 products and the compensated sums (which add under 1e-7 themselves). Observed on
// lavapipe: μ within 2.6e-7 relative, every checked value within 3% of its tolerance.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { gaussianInputs, runForwardGpu, saturateGates } from '../support/cells.ts';
import { buildLayout, initParams, CELL_KINDS, type CellKind, GATED_CELL_KINDS, cellLayerNorm } from '../../src/model/index.ts';
import { compareToReference, describeComparison } from '../../src/reference/compare.ts';
import { referenceEnvelope, referenceMu, referencePsi, type WindowData } from '../../src/reference/diagnostics/windows.ts';
import { Rng } from '../../src/util/random.ts';
import { WindowEngine, type EnvelopeTable } from '../../src/diagnostics/windows.ts';
import { WindowParams } from '../../shaders/diagnostics/windows.ts';
import { byteSizeOf, packStruct } from '../../src/gpu/layout.ts';
import { MU_RELATIVE, muTolerance, runWindows, windowIndices, type HostBatch, type WindowRun } from './window-support.ts';

const gpu = useGpu();
const [B, T, H, D] = [3, 37, 20, 5];
const LAGS = [1, 2, 5, 17, 36];

function expectClose(what: string, got: ArrayLike<number>, expected: ArrayLike<number>, tolerance: (i: number) => number): void {
  const c = compareToReference(got, expected, tolerance);
  expect(c.ok, describeComparison(what, c)).toBe(true);
}

async function forwardData(cell: CellKind, gates: 'plain' | 'saturated'): Promise<WindowData> {
  const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true) });
  const params = initParams(layout, { seed: 5, orthogonal: true });
  if (gates === 'saturated') saturateGates(layout, params);
  const got = await runForwardGpu(gpu.ctx, layout, Float32Array.from(params), gaussianInputs(B, T, D, 9), B, T);
  return { cell, batch: B, steps: T, hidden: H, intermediates: got.inter };
}

function randomArray(n: number, seed: number, draw: (rng: Rng) => number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => draw(rng));
}

const LR = 1e-3;
const sideInputs = () => ({
  rho: randomArray(B * T * H, 1, (r) => LR * (0.25 + 1.5 * r.uniform())),
  delta: randomArray(B * T * H, 2, (r) => r.normal()),
  v: randomArray(B * T * H, 3, (r) => r.normal()),
});

type Case = [string, CellKind, 'plain' | 'saturated'];
const cases: Case[] = [
  ...CELL_KINDS.map((cell): Case => [`${cell}`, cell, 'plain']),
  ...GATED_CELL_KINDS.filter((c) => c !== 'const').map((cell): Case => [`${cell} with saturated gates`, cell, 'saturated']),
];

type Side = ReturnType<typeof sideInputs>;

/** f̂, per-unit, log mean, f̃ and its decomposition of every lag; tolerances are sums of the per-window μ tolerances. */
function checkEnvelopes(table: EnvelopeTable, data: WindowData, side: Side, firstOrder: boolean, etaBar: number): void {
  const envelope = referenceEnvelope(data, LAGS, firstOrder, side.rho);
  LAGS.forEach((ell, l) => {
    const tol = muTolerance(referenceMu(data, ell, firstOrder));
    let [envTol, rhoTol] = [0, 0];
    const unitTol = new Float64Array(H);
    const massTol = new Float64Array(B);
    for (const [i, b, t, q] of windowIndices(B, T, H, ell)) {
      envTol += tol(i);
      unitTol[q]! += tol(i);
      massTol[b]! += tol(i);
      rhoTol += tol(i) * side.rho[(b * T + t - ell) * H + q]!;
    }
    const n = B * (T - ell) * H;
    const [row, want] = [table.lags[l]!, envelope[l]!];
    expect([row.ell, row.sequences]).toEqual([ell, B]);
    expectClose(`f̂(ℓ=${ell})`, [row.muL1Mean], [want.muL1Mean], () => envTol / n + 1e-6 * want.muL1Mean);
    expectClose(`per-unit μ(ℓ=${ell})`, row.perUnit, want.perUnit, (q) => unitTol[q]! / (B * (T - ell)) + 1e-6 * want.perUnit[q]!);
    // |Δ log(m + 1e-30)| ≤ Δm / (m + 1e-30), averaged over sequences.
    const logTol = [...want.masses].reduce((sum, m, b) => sum + massTol[b]! / ((T - ell) * H) / (m + 1e-30), 0) / B;
    expectClose(`log mean(ℓ=${ell})`, [row.logMuL1Mean], [want.logMuL1Mean], () => logTol + 1e-6);
    const gen = row.generalized!;
    const fTilde = want.generalizedMean!;
    expectClose(`f̃(ℓ=${ell})`, [gen.mean], [fTilde], () => rhoTol / n + 1e-6 * fTilde);
    expectClose(`f̃ - η̄f̂ (ℓ=${ell})`, [gen.spreadTerm], [fTilde - etaBar * want.muL1Mean], () => (rhoTol + etaBar * envTol) / n + 1e-6 * fTilde);
    expect(gen.etaBarTerm + gen.spreadTerm).toBeCloseTo(gen.mean, 12);
  });
}

/** ψ with μ and with ρμ; a value's tolerance is Σ_q tol(μ_q)·|δ v (ρ)| plus 1e-6 of Σ_q |terms|. */
function checkPsi(run: WindowRun, data: WindowData, side: Side, firstOrder: boolean): void {
  for (const [what, got, rho] of [['ψ', run.psi[0]!, undefined], ['ψ with ρμ', run.psiRho[0]!, side.rho]] as const) {
    const ref = referencePsi(data, LAGS, firstOrder, side.delta, side.v, rho);
    const psiTol = new Float64Array(ref.psi.length);
    LAGS.forEach((ell, l) => {
      const tol = muTolerance(referenceMu(data, ell, firstOrder));
      for (const [i, b, t, q] of windowIndices(B, T, H, ell)) {
        const start = (b * T + t - ell) * H + q;
        psiTol[(l * B + b) * T + t]! += tol(i) * Math.abs(side.delta[i]! * side.v[start]! * (rho ? rho[start]! : 1));
      }
    });
    expectClose(what, got, ref.psi, (i) => psiTol[i]! + 1e-6 * ref.magnitude[i]!);
  }
}

describe.each(cases)('windows: %s, B=3 T=37 H=20, lags 1…36', (_name, cell, gates) => {
  it.each([false, true])('firstOrder=%s: μ, f̂, log mean, per-unit, f̃ and ψ match direct float64 windows', async (firstOrder) => {
    const data = await forwardData(cell, gates);
    const side = sideInputs();
    const etaBar = side.rho.reduce((s, x) => s + x, 0) / side.rho.length;
    const config = { cell, batch: B, steps: T, hidden: H, lags: LAGS, firstOrder, withRho: true };
    const run = await runWindows(gpu.ctx, config, [{ count: B, inter: data.intermediates as Float32Array, ...side }], etaBar);
    LAGS.forEach((ell, l) => {
      const ref = referenceMu(data, ell, firstOrder);
      expectClose(`μ(ℓ=${ell})`, run.mu[0]!.subarray(l * B * T * H, (l + 1) * B * T * H), ref.mu, muTolerance(ref));
    });
    checkEnvelopes(run.table, data, side, firstOrder, etaBar);
    checkPsi(run, data, side, firstOrder);
  });
});

describe('windows: orders, batches and contracts', () => {
  it('the order switch: zeroth order gives μ0 alone, first order μ0 + μ1, and they differ', async () => {
    const data = await forwardData('gru', 'plain');
    const batch: HostBatch = { count: B, inter: data.intermediates as Float32Array };
    const config = { cell: 'gru' as const, batch: B, steps: T, hidden: H, lags: [3], firstOrder: false };
    const [zeroth, first] = [await runWindows(gpu.ctx, config, [batch]), await runWindows(gpu.ctx, { ...config, firstOrder: true }, [batch])];
    const [ref0, ref1] = [referenceMu(data, 3, false), referenceMu(data, 3, true)];
    expectClose('μ0', zeroth.mu[0]!, ref0.mu, muTolerance(ref0));
    expectClose('μ0 + μ1', first.mu[0]!, ref1.mu, muTolerance(ref1));
    let differ = 0;
    ref0.mu.forEach((x, i) => (differ += Number(Math.abs(x - ref1.mu[i]!) > 1e-3 * Math.abs(x))));
    expect(differ).toBeGreaterThan(B * (T - 3) * H * 0.5); // the first-order term matters for most windows
    expect([zeroth.table.firstOrder, first.table.firstOrder]).toEqual([false, true]);
  });

  it.each(['gru', 'lstm'] as const)('%s: two batches (3 + 2 sequences) accumulate to one batch of all 5', async (cell) => {
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: false });
    const all = await runForwardGpu(gpu.ctx, layout, Float32Array.from(initParams(layout, { seed: 4 })), gaussianInputs(5, T, D, 2), 5, T);
    const n = all.inter.length / (5 * T * H);
    const slice = (from: number, to: number, perSequence: (src: Float32Array) => Float32Array, planes: number) => {
      const out = new Float32Array(planes * (to - from) * T * H);
      const src = perSequence(all.inter);
      for (let p = 0; p < planes; p++) out.set(src.subarray((p * 5 + from) * T * H, (p * 5 + to) * T * H), p * (to - from) * T * H);
      return out;
    };
    const rho = randomArray(5 * T * H, 8, (r) => 0.5 + r.uniform());
    const rhoSlice = (from: number, to: number) => rho.slice(from * T * H, to * T * H);
    const config = { cell, batch: 5, steps: T, hidden: H, lags: [1, 6, 30], firstOrder: true, withRho: true };
    const whole = await runWindows(gpu.ctx, config, [{ count: 5, inter: all.inter, rho }], 1);
    const parts = await runWindows(gpu.ctx, config, [
      { count: 3, inter: slice(0, 3, (x) => x, n), rho: rhoSlice(0, 3) },
      { count: 2, inter: slice(3, 5, (x) => x, n), rho: rhoSlice(3, 5) },
    ], 1);
    expect(parts.table.sequences).toBe(5);
    whole.table.lags.forEach((row, l) => {
      const other = parts.table.lags[l]!;
      const close = (what: string, a: number, b: number) => expect(Math.abs(a - b), `${what} at ℓ=${row.ell}: ${a} vs ${b}`).toBeLessThanOrEqual(1e-6 * Math.abs(a) + 1e-30);
      close('f̂', row.muL1Mean, other.muL1Mean);
      close('log mean', row.logMuL1Mean, other.logMuL1Mean);
      close('f̃', row.generalized!.mean, other.generalized!.mean);
      row.perUnit.forEach((x, q) => close(`unit ${q}`, x, other.perUnit[q]!));
    });
  });

  it('WindowParams: five u32 then f32 one, 24 bytes', () => {
    const value = { count: 3, steps: 37, hidden: 20, lagCount: 5, planeBatch: 4, one: 1 };
    const bytes = packStruct(WindowParams, value);
    expect(byteSizeOf(WindowParams)).toBe(24);
    expect([...new Uint32Array(bytes, 0, 5)]).toEqual([3, 37, 20, 5, 4]);
    expect(new Float32Array(bytes, 20, 1)[0]).toBe(1);
  });

  it('refuses lags outside [1, T-1], oversized batches and a missing ρ, with the reason', () => {
    const base = { cell: 'diag' as const, batch: 2, steps: 10, hidden: 4, lags: [1, 9], firstOrder: true };
    expect(() => new WindowEngine(gpu.ctx, { ...base, lags: [1, 10] })).toThrow(/lag 10 is outside \[1, T-1\] = \[1, 9\]/);
    const live = gpu.ctx.memory.live;
    const engine = new WindowEngine(gpu.ctx, { ...base, withRho: true });
    // The engine's byte count is what it allocated, as the context's ledger measured it.
    expect(gpu.ctx.memory.live - live).toBe(engine.bytes);
    const inter = gpu.ctx.storage('test/intermediates', 3 * 2 * 10 * 4 * 4);
    try {
      const step = gpu.ctx.step('test refusals');
      expect(() => engine.recordBatch(step, inter, 3)).toThrow(/batch of 3 sequences, expected 1…2/);
      expect(() => engine.recordBatch(step, inter, 2)).toThrow(/pass the base rates ρ/);
      expect(() => engine.recordMu(step, inter, 2)).toThrow(/call recordBatch first/);
    } finally {
      inter.destroy();
      engine.destroy();
    }
    expect(engine.bytes).toBe(8 * 2 * 2 * 11 * 4 + 8 * 2 * 2 * 4 * 2 + 8 * 2 * 4 + 16 * 2 + 4 * 2);
  });
});

describe('windows: a long sequence (T=1024, leak ≈ 0.9, lags up to 256)', () => {
  // Leaks near 0.9 throughout, except that half the units start with their gate shut (leak ≈ 1e-3 for 256 steps),
  // as saturated units do: afterwards |Σ log leak| exceeds 1700, whose f32 ulp (1.2e-4) every later window inherits.
  const [NB, NT, NH] = [2, 1024, 16];
  const lags = [1, 16, 64, 128, 192, 256];
  const rng = new Rng(17);
  const leak = new Float32Array(NB * NT * NH);
  for (let b = 0; b < NB; b++) {
    for (let t = 0; t < NT; t++) {
      for (let q = 0; q < NH; q++) leak[(b * NT + t) * NH + q] = q % 2 === 0 && t < 256 ? 1e-3 * (0.5 + rng.uniform()) : 0.85 + 0.1 * rng.uniform();
    }
  }
  const rdiag = Float32Array.from({ length: NB * NT * NH }, () => 0.05 * rng.normal());
  const inter = new Float32Array(3 * NB * NT * NH);
  inter.set(leak.map((x) => 1 - x), 0);
  inter.set(leak, NB * NT * NH);
  inter.set(rdiag, 2 * NB * NT * NH);
  const data: WindowData = { cell: 'diag', batch: NB, steps: NT, hidden: NH, intermediates: inter };

  /** Worst |μ - μ_ref|/|μ_ref| over windows with |μ_ref| > 1e-20. */
  function worstRelative(got: (l: number, i: number) => number, firstOrder: boolean): number {
    let worst = 0;
    lags.forEach((ell, l) => {
      const ref = referenceMu(data, ell, firstOrder).mu;
      for (const [i] of windowIndices(NB, NT, NH, ell)) {
        if (Math.abs(ref[i]!) > 1e-20) worst = Math.max(worst, Math.abs(got(l, i) - ref[i]!) / Math.abs(ref[i]!));
      }
    });
    return worst;
  }

  it('a plain f32 prefix of logs misses the 1e-4 contract', () => {
    // Simulated in f32 with Math.fround: P_{t+1} = P_t + log(leak_t), μ0 = exp(P_{t+1} - P_{t+1-ℓ}) (exp in float64,
    // so only the prefix is to blame). Each add rounds to the ulp of |P|, not of the window's own sum.
    const prefix = new Float32Array(NB * (NT + 1) * NH);
    for (let b = 0; b < NB; b++) {
      for (let t = 0; t < NT; t++) {
        for (let q = 0; q < NH; q++) {
          const at = (b * (NT + 1) + t) * NH + q;
          prefix[at + NH] = Math.fround(prefix[at]! + Math.fround(Math.log(leak[(b * NT + t) * NH + q]!)));
        }
      }
    }
    const naive = (l: number, i: number) => {
      const [b, t, q] = [Math.floor(i / (NT * NH)), Math.floor(i / NH) % NT, i % NH];
      const end = prefix[(b * (NT + 1) + t + 1) * NH + q]!;
      return Math.exp(Math.fround(end - prefix[(b * (NT + 1) + t + 1 - lags[l]!) * NH + q]!));
    };
    expect(worstRelative(naive, false)).toBeGreaterThan(5 * MU_RELATIVE);
  });

  it.each([false, true])('the compensated prefix meets it with room to spare (firstOrder=%s)', async (firstOrder) => {
    const run = await runWindows(gpu.ctx, { cell: 'diag', batch: NB, steps: NT, hidden: NH, lags, firstOrder }, [{ count: NB, inter }]);
    const mu = run.mu[0]!;
    expect(worstRelative((l, i) => mu[l * NB * NT * NH + i]!, firstOrder)).toBeLessThan(MU_RELATIVE / 10);
  });
});
