// Fits of SPEC §9 recover known parameters from exact synthetic data.
import { describe, expect, it } from 'vitest';
import { fitEnvelopeRegimes } from '../../src/stats/fits/envelope.ts';
import { constGateTimescale, fitUnitTimescales, timescaleCcdf } from '../../src/stats/fits/timescales.ts';
import { fitMasterProportionality } from '../../src/stats/fits/master.ts';
import { envelopeLaw, fitPrefactor, predictLearnabilityWindow, predictRequiredSamples, type EnvelopeLaw } from '../../src/stats/fits/asymptotic.ts';
import { fitLine } from '../../src/stats/regression.ts';
import { kappaAlpha } from '../../src/stats/detectability.ts';
import { expectClose } from './close.ts';

// SPEC §10's paper grid: 128 lags from 4 to 256, truncated like numpy.linspace(..., dtype=int).
const ells = Array.from({ length: 128 }, (_, i) => Math.trunc(4 + (i * (256 - 4)) / 127));
const EXACT = { abs: 1e-10 };

describe('straight-line least squares', () => {
  it('recovers an exact line with R² = 1; weights leave an exact fit unchanged', () => {
    const x = [1, 2, 4, 8];
    const y = x.map((v) => 3 - 0.5 * v);
    for (const fit of [fitLine(x, y), fitLine(x, y, [1, 5, 0.2, 3])]) {
      expectClose('slope', fit.slope, -0.5, EXACT);
      expectClose('intercept', fit.intercept, 3, EXACT);
      expectClose('R²', fit.r2, 1, EXACT);
    }
  });
  it('has textbook R², AIC and BIC on a small noisy set', () => {
    // x = 0,1,2,3 and y = 0,1,1,3: Sxy = 4.5, Sxx = 5, so slope 0.9 and intercept 1.25 - 0.9·1.5 = -0.1.
    const fit = fitLine([0, 1, 2, 3], [0, 1, 1, 3]);
    expectClose('slope', fit.slope, 0.9, EXACT);
    expectClose('intercept', fit.intercept, -0.1, EXACT);
    const residuals = [0.1, 0.2, -0.7, 0.4]; // RSS 0.7
    const rss = residuals.reduce((a, r) => a + r * r, 0);
    expectClose('R²', fit.r2, 1 - rss / 4.75, EXACT); // TSS about the mean 1.25
    const minus2LogLikelihood = 4 * Math.log((2 * Math.PI * rss) / 4) + 4;
    expectClose('AIC', fit.aic, minus2LogLikelihood + 4, EXACT);
    expectClose('BIC', fit.bic, minus2LogLikelihood + 2 * Math.log(4), EXACT);
  });
  it('refuses a single abscissa', () => expect(() => fitLine([2, 2, 2], [1, 2, 3])).toThrow(/all 3 x values are equal/));
});

describe('envelope regimes', () => {
  it('an exponential envelope gives b, τ_env = -1/b, R² = 1, and is preferred', () => {
    const regimes = fitEnvelopeRegimes(ells, ells.map((l) => -0.5 - 0.02 * l));
    expectClose('a', regimes.exponential.intercept, -0.5, EXACT);
    expectClose('b', regimes.exponential.slope, -0.02, EXACT);
    expectClose('τ_env', regimes.exponential.tauEnv, 50, { rel: 1e-9 });
    expectClose('R²', regimes.exponential.r2, 1, EXACT);
    expect(regimes.power.r2).toBeLessThan(1);
    expect(regimes.preferred).toBe('exponential');
  });
  it('a power-law envelope gives d and is preferred', () => {
    const regimes = fitEnvelopeRegimes(ells, ells.map((l) => 1 - 1.3 * Math.log(l)));
    expectClose('c', regimes.power.intercept, 1, EXACT);
    expectClose('d', regimes.power.slope, -1.3, EXACT);
    expectClose('β', regimes.power.beta, 1.3, EXACT);
    expect(regimes.preferred).toBe('power');
  });
  it('a logarithmic envelope gives γ', () => {
    const regimes = fitEnvelopeRegimes(ells, ells.map((l) => 0.2 - 2 * Math.log(Math.log(l))));
    expectClose('γ', regimes.logarithmic!.gamma, 2, EXACT);
  });
  it('a growing envelope has τ_env = ∞; lags with a non-finite log envelope are skipped', () => {
    const y = ells.map((l) => 0.01 * l);
    y[3] = -Infinity;
    const regimes = fitEnvelopeRegimes(ells, y);
    expect(regimes.exponential.tauEnv).toBe(Infinity);
    expect(regimes.exponential.n).toBe(127);
  });
});

describe('per-unit time scales', () => {
  const taus = [5, 20, 100];
  const amplitudes = [1, 0.5, 2];
  // Units 0–2 decay exactly; unit 3 grows; unit 4 has only 4 positive lags.
  const envelopeByLag = ells.map((l, i) => [
    ...taus.map((tau, q) => amplitudes[q]! * Math.exp(-l / tau)),
    0.1 * Math.exp(l / 50),
    i < 4 ? 1 : 0,
  ]);
  const fitted = fitUnitTimescales(ells, envelopeByLag);
  it.each([0, 1, 2])('unit %s: τ_q, C and R² = 1', (q) => {
    expectClose(`τ_${q}`, fitted.tau[q]!, taus[q]!, { rel: 1e-9 });
    expectClose(`C_${q}`, fitted.amplitude[q]!, amplitudes[q]!, { rel: 1e-9 });
    expectClose(`R²_${q}`, fitted.r2[q]!, 1, EXACT);
  });
  it('a growing unit has τ = ∞; a unit with fewer than 5 positive lags has no fit', () => {
    expect(fitted.tau[3]).toBe(Infinity);
    expect(Number.isNaN(fitted.tau[4])).toBe(true);
    expect(fitted.lagsUsed[4]).toBe(4);
  });
  it('the CCDF P(τ > x) counts ties and infinite τ, and leaves unfitted units out', () => {
    const ccdf = timescaleCcdf([1, 2, 2, 3, Infinity, NaN]);
    expect(ccdf).toEqual({ x: [1, 2, 3], p: [4 / 5, 2 / 5, 1 / 5], units: 5, infinite: 1 });
  });
  it.each([
    [0.05, -1 / Math.log(0.95)],
    [0.5, 1 / Math.LN2],
    [1e-9, 1e9 - 0.5],
  ])('ConstGate τ = -1/log(1-s) at s = %s', (s, tau) => expectClose(`τ(${s})`, constGateTimescale(s), tau, { rel: 1e-12 }));
});

describe('master proportionality (Eq. 26)', () => {
  it('recovers slope 1 and intercept log A when N_required = A·f̂^{-κ_α}', () => {
    const A = 7;
    const rows = ells.slice(0, 40).map((ell, i) => {
      const alphaHat = 1.2 + 0.015 * i;
      const fHat = Math.exp(-0.03 * ell);
      return { ell, fHat, alphaHat, nRequired: A * Math.pow(fHat, -kappaAlpha(alphaHat)) };
    });
    rows.push({ ell: 300, fHat: 0.01, alphaHat: 0.9, nRequired: 25 }); // α̂ ≤ 1: left out
    rows.push({ ell: 301, fHat: 0.01, alphaHat: 1.5, nRequired: -1 }); // undetectable: left out
    const master = fitMasterProportionality(rows);
    expect(master.ells.length).toBe(40);
    expectClose('slope', master.fit!.slope, 1, EXACT);
    expectClose('intercept', master.fit!.intercept, Math.log(A), EXACT);
  });
});

describe('asymptotic laws (paper §5.5)', () => {
  const laws: EnvelopeLaw[] = [
    { law: 'exponential', lambda: 0.02 },
    { law: 'power', beta: 0.7 },
    { law: 'logarithmic', gamma: 1.5 },
  ];
  it.each(laws.map((law) => [law.law, law] as const))('%s: H_N inverts N(ℓ), and the prefactor is recovered', (_name, law) => {
    const kappa = 3;
    for (const ell of [10, 64, 256]) {
      const n = predictRequiredSamples(law, kappa, ell, 40);
      expectClose(`H(N(${ell}))`, predictLearnabilityWindow(law, kappa, n, 40), ell, { rel: 1e-10 });
    }
    const observed = ells.map((ell) => predictRequiredSamples(law, kappa, ell, 12.5));
    expectClose('A', fitPrefactor(law, kappa, ells, observed), 12.5, { rel: 1e-10 });
  });
  it('N grows as e^{κλℓ}, ℓ^{κβ}, (log ℓ)^{κγ}', () => {
    expectClose('exponential', predictRequiredSamples(laws[0]!, 2, 50), Math.exp(2 * 0.02 * 50), { rel: 1e-14 });
    expectClose('power', predictRequiredSamples(laws[1]!, 2, 50), Math.pow(50, 1.4), { rel: 1e-14 });
    expectClose('logarithmic', predictRequiredSamples(laws[2]!, 2, 50), Math.pow(Math.log(50), 3), { rel: 1e-14 });
  });
  it('a fitted envelope yields its law', () => {
    const regimes = fitEnvelopeRegimes(ells, ells.map((l) => -0.05 * l));
    expect(envelopeLaw(regimes, 'exponential')).toEqual({ law: 'exponential', lambda: regimes.exponential.lambda });
    expectClose('λ', regimes.exponential.lambda, 0.05, EXACT);
  });
});

describe('degenerate envelopes', () => {
  it('an all-zero envelope (every lag at the log floor) is reported as having no regime, not as a decay', async () => {
    const { fitEnvelopeRegimes, LOG_ENVELOPE_FLOOR } = await import('../../src/stats/fits/envelope.ts');
    const ells = Array.from({ length: 16 }, (_, i) => 4 + 16 * i);
    const fit = fitEnvelopeRegimes(ells, ells.map(() => Math.log(0 + 1e-30)));
    expect(fit.preferred).toBe('none');
    expect(fit.note).toMatch(/zero at every lag/);
    expect(fit.exponential.tauEnv).toBe(Infinity);
    expect(LOG_ENVELOPE_FLOOR).toBeCloseTo(Math.log(1e-30), 12);
  });
});
