// SNR, N_required and the learnability windows (SPEC §8) on a hand-built per-lag table.
import { describe, expect, it } from 'vitest';
import {
  contiguousLearnabilityWindow,
  detectability,
  kappaAlpha,
  learnabilityWindow,
  PAPER_BUDGETS,
  requiredSamples,
  signalToNoise,
  type LagStatistics,
} from '../../src/stats/detectability.ts';
import { expectClose } from './close.ts';

const EPSILON = 0.1;

/**
 * The expected N_required from the definition, solved the other way round: for α > 1, SNR(N) > ε exactly when
 * N > N* = (εσ/m̄)^{α/(α-1)}, so N_required is the first N_use = min(N, n_ψ) above N*; for α ≤ 1 SNR = m̄/σ does not
 * grow with N, so it is the smallest budget or nothing.
 */
function expectedRequired(lag: LagStatistics): number {
  const budgets = PAPER_BUDGETS.map((n) => Math.min(n, lag.nSamples));
  if (!(lag.sigmaHat > 1e-12)) return -1;
  if (lag.alphaHat <= 1) return lag.mBar / lag.sigmaHat > EPSILON ? budgets[0]! : -1;
  const threshold = Math.pow((EPSILON * lag.sigmaHat) / lag.mBar, lag.alphaHat / (lag.alphaHat - 1));
  return budgets.find((n) => n > threshold) ?? -1;
}

const lag = (ell: number, mBar: number, alphaHat: number, sigmaHat: number, nSamples: number): LagStatistics => ({
  ell,
  fHat: 1 / ell,
  mBar,
  alphaHat,
  sigmaHat,
  nSamples,
});

// Thresholds N*: 8 → 25; 1000 → 1200; 125000 → none; 6.25 → 25; ≈2670 → 3200 but only 3000 samples → 3000 (all of them);
// σ̂ at the floor → none; α̂ < 1 with m̄/σ̂ = 0.2 → 25.
const table: LagStatistics[] = [
  lag(4, 0.05, 1.5, 1, 10000),
  lag(8, 0.01, 1.5, 1, 10000),
  lag(16, 0.002, 1.5, 1, 10000),
  lag(32, 0.02, 2, 0.5, 10000),
  lag(64, 0.003, 1.8, 1, 3000),
  lag(96, 0.2, 0.9, 1, 10000),
  lag(128, 0.5, 1.5, 1e-13, 10000),
];

describe('SNR and κ_α (paper Eq. 28)', () => {
  it.each([
    [1.5, 3],
    [2, 2],
    [1.25, 5],
  ])('κ_α(%s) = %s', (alpha, kappa) => expectClose(`κ(${alpha})`, kappaAlpha(alpha), kappa, { rel: 1e-15 }));
  it('κ_α is infinite for α ≤ 1', () => expect([kappaAlpha(1), kappaAlpha(0.8)]).toEqual([Infinity, Infinity]));
  it('SNR = m̄·N^{1-1/max(1,α)}/σ̂, and 0 when σ̂ ≤ 1e-12', () => {
    expectClose('SNR at α = 2', signalToNoise(0.3, 2, 1.5, 400), (0.3 * 20) / 1.5, { rel: 1e-15 });
    expectClose('SNR at α = 1.5', signalToNoise(0.01, 1.5, 1, 1000), 0.01 * 10, { rel: 1e-14 });
    expect(signalToNoise(0.2, 0.7, 2, 5000)).toBe(0.1); // α ≤ 1: N^0
    expect(signalToNoise(1, 1.5, 1e-12, 100)).toBe(0);
  });
});

describe('N_required (SPEC §8)', () => {
  it.each(table.map((l) => [l.ell, l] as const))('lag %s', (_ell, l) => {
    expect(requiredSamples(l, { epsilon: EPSILON })).toBe(expectedRequired(l));
  });
  it('the table covers every kind of answer', () => {
    expect(table.map(expectedRequired)).toEqual([25, 1200, -1, 25, 3000, 25, -1]);
  });
  it('a budget above the sample count uses all samples: lag 64 (N* ≈ 2670, 3000 samples) needs exactly 3000', () => {
    const lag64 = table[4]!;
    expect(requiredSamples(lag64)).toBe(lag64.nSamples);
  });
  it.each([
    [5000, 3200], // the grid budget 3200 is below the sample count: it applies as it is
    [2600, -1], // every N_use ≤ 2600 < N*: never detectable
    [2671, 2671],
  ])('with %s samples lag 64 needs %s', (nSamples, expected) => {
    const lag64 = { ...table[4]!, nSamples };
    expect([requiredSamples(lag64), expectedRequired(lag64)]).toEqual([expected, expected]);
  });
});

describe('learnability windows (paper Eq. 29)', () => {
  const report = detectability(table, { epsilon: EPSILON });
  // Detectable by budget N: N ≥ 25 → {4, 32, 96}; N ≥ 1200 → also 8; N ≥ 3000 → also 64. Contiguous from ℓ = 4: 4, then 4–8.
  it.each([
    [25, 96, 4],
    [800, 96, 4],
    [1200, 96, 8],
    [12800, 96, 8],
  ])('N = %s: Ĥ_N = %s, contiguous %s', (budget, window, contiguous) => {
    expect(learnabilityWindow(report.lags, budget)).toBe(window);
    expect(contiguousLearnabilityWindow(report.lags, budget)).toBe(contiguous);
    const row = report.windows.find((w) => w.budget === budget)!;
    expect([row.window, row.contiguousWindow]).toEqual([window, contiguous]);
  });
  it('is 0 when nothing is detectable, or when the smallest lag is not', () => {
    expect(learnabilityWindow(report.lags, 24)).toBe(0);
    expect(contiguousLearnabilityWindow([{ ell: 4, nRequired: -1 }, { ell: 8, nRequired: 25 }], 100)).toBe(0);
    expect(learnabilityWindow([{ ell: 4, nRequired: -1 }, { ell: 8, nRequired: 25 }], 100)).toBe(8);
  });
  it('a lag needing all its samples enters Ĥ_N at the first budget ≥ its sample count', () => {
    const pair = detectability([table[0]!, table[4]!], { epsilon: EPSILON });
    expect(pair.lags.map((l) => l.nRequired)).toEqual([25, 3000]);
    expect(pair.windows.filter((w) => [2400, 3200].includes(w.budget)).map((w) => w.window)).toEqual([4, 64]);
  });
  it('reports SNR at each N_use = min(N, n_ψ) and κ per lag', () => {
    const lag64 = report.lags.find((l) => l.ell === 64)!;
    expect(lag64.budgets.slice(-6)).toEqual([2400, 3000, 3000, 3000, 3000, 3000]); // 3200…12800 use all 3000 samples
    expectClose('SNR(64, 3000)', lag64.snr.at(-1)!, 0.003 * Math.pow(3000, 1 - 1 / 1.8), { rel: 1e-14 });
    expectClose('κ(64)', lag64.kappa, 1.8 / 0.8, { rel: 1e-15 });
  });
});
