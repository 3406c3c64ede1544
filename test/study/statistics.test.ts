// The statistics stage on a synthetic Diagnostics object (synthetic-diagnostics.ts): every number is checked
// against SPEC §8/§9's definitions, evaluated here independently of src/stats/detectability.ts.
import { describe, expect, it } from 'vitest';
import { analyzeDiagnostics, type CellStatistics } from '../../src/study/statistics.ts';
import { detectionError } from '../../src/study/detection.ts';
import { estimateStable, type AlphaMethod } from '../../src/stats/estimate.ts';
import { PAPER_BUDGETS } from '../../src/stats/detectability.ts';
import { expectClose } from '../stats/close.ts';
import { SYNTHETIC_ALPHA, SYNTHETIC_ELLS, syntheticDiagnostics } from './synthetic-diagnostics.ts';

const EPS = 0.1;
const BUDGETS = [...PAPER_BUDGETS].reverse(); // any order in, ascending out

/** SPEC §8, Eq. 28, written out again. */
function snr(mbar: number, alpha: number, sigma: number, n: number): number {
  return sigma <= 1e-12 ? 0 : (mbar * n ** (1 - 1 / Math.max(1, alpha))) / sigma;
}

/** SPEC §8's N_use = min(N, n_ψ(ℓ)) of every grid budget, ascending. */
function applicable(count: number): number[] {
  return PAPER_BUDGETS.map((n) => Math.min(n, count));
}

function expectedRequired(mbar: number, alpha: number, sigma: number, count: number): number {
  return applicable(count).find((n) => snr(mbar, alpha, sigma, n) > EPS) ?? -1;
}

function expectedWindows(rows: { ell: number; nRequired: number }[], n: number): [number, number] {
  const detectable = (r: { nRequired: number }) => r.nRequired !== -1 && r.nRequired <= n;
  const window = Math.max(0, ...rows.filter(detectable).map((r) => r.ell));
  let contiguous = 0;
  for (const r of rows) {
    if (!detectable(r)) break;
    contiguous = r.ell;
  }
  return [window, contiguous];
}

const METHODS: AlphaMethod[] = ['mcculloch', 'ecf', 'koutrouvelis'];
const diagnostics = syntheticDiagnostics('const');
const results = new Map<AlphaMethod, CellStatistics>(
  METHODS.map((alphaMethod) => [alphaMethod, analyzeDiagnostics(diagnostics, { alphaMethod, budgets: BUDGETS, eps: EPS, constS: 0.05 })]),
);

describe.each(METHODS)('analyzeDiagnostics with %s', (method) => {
  const stats = results.get(method)!;

  it('estimates α̂, σ̂ per lag from the ψ subsample, as estimateStable does', () => {
    expect(stats.lags.map((r) => r.ell)).toEqual(SYNTHETIC_ELLS);
    stats.lags.forEach((row, l) => {
      const lag = diagnostics.perLag[l]!;
      const estimate = estimateStable(lag.psiSubsample, method);
      expect(row.alphaHat, `lag ${row.ell} α̂`).toBe(estimate.alpha);
      expect(row.sigmaHat, `lag ${row.ell} σ̂`).toBe(estimate.sigma);
      expect(row.alphaReliable, `lag ${row.ell} reliable`).toBe(estimate.alphaReliable);
      expect(row.alphaMethod, `lag ${row.ell} method used`).toBe(estimate.methodUsed);
      expect(row.nSamples).toBe(lag.count);
      expect(row.nEstimated).toBe(lag.psiSubsample.length);
      expect(row.mbar).toBe(lag.mbar);
      expect(row.generalized).toEqual(lag.generalized);
      expect(row.exact).toBe(lag.exact);
      if (lag.count >= 20_000) expectClose(`lag ${row.ell} α̂ of α=1.5 samples`, row.alphaHat, SYNTHETIC_ALPHA, { abs: 0.1 });
    });
    const short = stats.lags.find((r) => r.ell === 20)!;
    expect([short.alphaHat, short.sigmaHat, short.alphaReliable]).toEqual([2, 0, false]);
  });

  it('finds N_required, best_snr, best_N and err_at_best_snr from their definitions', () => {
    for (const row of stats.lags) {
      const psi = diagnostics.perLag.find((l) => l.ell === row.ell)!.psiSubsample;
      expect(row.nRequired, `lag ${row.ell} N_required`).toBe(expectedRequired(row.mbar, row.alphaHat, row.sigmaHat, row.nSamples));
      const grid = applicable(row.nSamples);
      const snrs = grid.map((n) => snr(row.mbar, row.alphaHat, row.sigmaHat, n));
      const best = Math.max(...snrs);
      const bestN = grid[snrs.indexOf(best)]!;
      expectClose(`lag ${row.ell} best_snr`, row.bestSnr, best, { rel: 1e-12 });
      expect(row.bestNForEll, `lag ${row.ell} best_N`).toBe(bestN);
      const prefix = Array.from(psi.subarray(0, Math.min(bestN, psi.length)));
      const centre = prefix.reduce((a, b) => a + b, 0) / prefix.length;
      const sd = Math.sqrt(prefix.reduce((a, b) => a + (b - centre) ** 2, 0) / prefix.length);
      expectClose(`lag ${row.ell} err_at_best_snr`, row.errAtBestSnr, (sd + 1e-12) / (Math.abs(centre) + 1e-12), { rel: 1e-9 });
    }
    // The design: early lags detectable, the 300-sample lag never, the long lags off the grid.
    expect(stats.lags.find((r) => r.ell === 4)!.nRequired).toBe(25);
    expect(stats.lags.find((r) => r.ell === 20)!.nRequired).toBe(-1);
    expect(stats.lags.find((r) => r.ell === 60)!.nRequired).toBe(-1);
  });

  it('gives Ĥ_N and the contiguous window for every budget', () => {
    expect(stats.budgets).toEqual([...PAPER_BUDGETS]);
    expect(stats.windows.map((w) => w.budget)).toEqual([...PAPER_BUDGETS]);
    for (const w of stats.windows) {
      expect([w.window, w.contiguousWindow], `N = ${w.budget}`).toEqual(expectedWindows(stats.lags, w.budget));
    }
    const last = stats.windows.at(-1)!;
    expect(last.window).toBeGreaterThan(20);
    expect(last.contiguousWindow).toBe(12); // the 300-sample lag 20 breaks contiguity
  });
});

describe('analyzeDiagnostics fits (SPEC §9)', () => {
  const stats = results.get('ecf')!;

  it('fits the exponential envelope exactly: τ_env = 20', () => {
    const regimes = stats.envelope.regimes!;
    expectClose('τ_env', regimes.exponential.tauEnv, 20, { rel: 1e-9 });
    expectClose('R² exponential', regimes.exponential.r2, 1, { abs: 1e-12 });
    expect(regimes.preferred).toBe('exponential');
    expect(regimes.exponential.aic).toBeLessThan(regimes.power.aic);
  });

  it('fits per-unit time scales, summarises them and gives the CCDF', () => {
    const [u0, u1, u2, u3] = stats.timescales.units;
    expectClose('τ_0', u0!.tau, 10, { rel: 1e-9 });
    expectClose('C_0', u0!.amplitude, 0.5, { rel: 1e-9 });
    expectClose('τ_1', u1!.tau, 40, { rel: 1e-9 });
    expectClose('C_1', u1!.amplitude, 2, { rel: 1e-9 });
    expect(u2!.tau).toBe(Infinity);
    expect(Number.isNaN(u3!.tau)).toBe(true);
    expect(u3!.lagsUsed).toBe(3);
    const s = stats.timescales.summary;
    expect([s.units, s.fitted, s.finite, s.infinite, s.unfit]).toEqual([4, 3, 2, 1, 1]);
    expectClose('mean τ', s.mean, 25, { rel: 1e-9 });
    expectClose('median τ', s.median, 25, { rel: 1e-9 });
    expectClose('std τ', s.std, 15, { rel: 1e-9 });
    expectClose('q10 τ', s.q10, 13, { rel: 1e-9 });
    expect(stats.timescales.ccdf.p).toEqual([2 / 3, 1 / 3]);
    expectClose('ccdf x₀', stats.timescales.ccdf.x[0]!, 10, { rel: 1e-9 });
  });

  it("gives ConstGate's closed form for the const cell only", () => {
    expectClose('τ const', stats.timescales.constGate!.tau, -1 / Math.log(0.95), { rel: 1e-14 });
    const gru = analyzeDiagnostics(syntheticDiagnostics('gru'), { alphaMethod: 'mcculloch', budgets: BUDGETS, eps: EPS, constS: 0.05 });
    expect(gru.timescales.constGate).toBeUndefined();
  });

  it('regresses log N_required on -κ log f̂ over the detectable lags with α̂ > 1', () => {
    const used = stats.lags.filter((r) => r.nRequired > 0 && r.alphaHat > 1);
    expect(stats.master.ells).toEqual(used.map((r) => r.ell));
    used.forEach((r, i) => {
      expectClose(`master x at ${r.ell}`, stats.master.x[i]!, -(r.alphaHat / (r.alphaHat - 1)) * Math.log(r.muL1Mean), { rel: 1e-12 });
      expectClose(`master y at ${r.ell}`, stats.master.y[i]!, Math.log(r.nRequired), { rel: 1e-12 });
    });
    expect(stats.master.fit?.n).toBe(used.length);
  });

  it('predicts with the median reliable α̂ and the fitted decay rates', () => {
    const alphas = stats.lags.filter((r) => r.alphaReliable && r.alphaHat > 1).map((r) => r.alphaHat).sort((a, b) => a - b);
    const mid = (alphas.length - 1) / 2;
    expectClose('α for the laws', stats.asymptotic.alpha, (alphas[Math.floor(mid)]! + alphas[Math.ceil(mid)]!) / 2, { rel: 1e-14 });
    const exponential = stats.asymptotic.predictions.find((p) => p.law.law === 'exponential')!;
    expect(exponential.law).toEqual({ law: 'exponential', lambda: stats.envelope.regimes!.exponential.lambda });
    expectClose('κ', exponential.kappa, stats.asymptotic.alpha / (stats.asymptotic.alpha - 1), { rel: 1e-14 });
    expect(exponential.windows.map((w) => w.budget)).toEqual([...PAPER_BUDGETS]);
  });

  it('passes the transport agreement through', () => {
    expect(stats.transport).toEqual(diagnostics.transport);
  });
});

describe('analyzeDiagnostics edge cases', () => {
  it('drops non-finite ψ samples and counts them', () => {
    const d = syntheticDiagnostics('diag');
    d.perLag[0]!.psiSubsample[5] = NaN;
    d.perLag[0]!.psiSubsample[6] = Infinity;
    const stats = analyzeDiagnostics(d, { alphaMethod: 'mcculloch', budgets: BUDGETS, eps: EPS });
    expect(stats.lags[0]!.nonFinite).toBe(2);
    expect(stats.lags[0]!.nEstimated).toBe(d.perLag[0]!.psiSubsample.length - 2);
    expect(() => analyzeDiagnostics(d, { alphaMethod: 'mcculloch', budgets: BUDGETS, eps: EPS, nonFinite: 'reject' })).toThrow(/lag 4: 2 of/);
  });

  it('refuses an empty budget grid and a non-positive ε', () => {
    const d = syntheticDiagnostics('gru');
    expect(() => analyzeDiagnostics(d, { alphaMethod: 'ecf', budgets: [], eps: EPS })).toThrow(/budget grid is empty/);
    expect(() => analyzeDiagnostics(d, { alphaMethod: 'ecf', budgets: BUDGETS, eps: 0 })).toThrow(/eps must be a positive/);
  });

  it('detectionError is the coefficient of variation of the prefix, NaN for none', () => {
    expectClose('CV of [1, 3]', detectionError([1, 3, 100], 2), (1 + 1e-12) / (2 + 1e-12), { rel: 1e-15 });
    expect(Number.isNaN(detectionError([], 5))).toBe(true);
  });

  it('is plain data: a JSON round trip keeps every finite number', () => {
    const stats = results.get('mcculloch')!;
    const back = JSON.parse(JSON.stringify(stats)) as CellStatistics;
    expect(back.lags[3]).toEqual(stats.lags[3]);
    expect(back.windows).toEqual(stats.windows);
  });
});
