// The symmetric α-stable law (SPEC §8, §11): closed forms, reference values, and the agreement of its two
// independent numerical paths (tail series and Gil-Pelaez quadrature) wherever both apply.
import { describe, expect, it } from 'vitest';
import { stableCdf, stablePdf, stableQuantile, stableSurvival } from '../../src/stats/stable.ts';
import { gilPelaez } from '../../src/stats/stable-integral.ts';
import { stableTailSeries } from '../../src/stats/stable-series.ts';
import { erfc, gamma } from '../../src/stats/special.ts';
import { expectClose } from './close.ts';

const CDF_TOLERANCE = { abs: 1e-8 }; // SPEC §11's contract
const DENSITY_TOLERANCE = { rel: 1e-6 };

// SPEC §11, σ = 1.
const quantileTable: [alpha: number, x75: number, x95: number, f0: number][] = [
  [1.0, 1, 6.31375151467504, 0.318309886183791],
  [1.2, 0.981537200396302, 4.36867543083843, 0.299420059179829],
  [1.5, 0.968933181713583, 3.05194097323832, 0.287352751452164],
  [1.8, 0.959756431402332, 2.5048814807865, 0.283068758591619],
  [2.0, 0.95387255240894, 2.32617430735335, 0.282094791773878],
];
const cdfTable: [x: number, alpha: number, F: number][] = [
  [1, 1.5, 0.7563420243992705],
  [3, 1.5, 0.948402196440815],
  [1, 1.2, 0.7533678112634096],
  [1, 1.8, 0.7587147921208994],
  [0.3, 0.5, 0.6267309611730578],
];
const densityTable: [x: number, alpha: number, f: number][] = [
  [1, 1.5, 0.20203815960784],
  [3, 1.2, 0.0323095577954834],
  [2, 0.8, 0.0549375560844547],
];
const tailTable: [x: number, alpha: number, survival: number][] = [
  [20, 1.5, 2.27055303995e-3],
  [100, 1.5, 1.99789886426e-4],
  [50, 1.8, 8.0401017371e-5],
];

describe('SPEC §11 reference values', () => {
  it.each(quantileTable)('α = %s: quantiles x.75, x.95 and their mirror images x.25, x.05', (alpha, x75, x95) => {
    expectClose(`x.75 at α=${alpha}`, stableQuantile(0.75, alpha), x75, { rel: 1e-10 });
    expectClose(`x.95 at α=${alpha}`, stableQuantile(0.95, alpha), x95, { rel: 1e-10 });
    expectClose(`x.25 at α=${alpha}`, stableQuantile(0.25, alpha), -x75, { rel: 1e-10 });
    expectClose(`x.05 at α=${alpha}`, stableQuantile(0.05, alpha), -x95, { rel: 1e-10 });
  });
  it.each(quantileTable)('α = %s: f(0) = Γ(1+1/α)/π', (alpha, _x75, _x95, f0) => {
    expectClose(`f(0) at α=${alpha}`, stablePdf(0, alpha), f0, DENSITY_TOLERANCE);
    expectClose(`Γ(1+1/α)/π at α=${alpha}`, gamma(1 + 1 / alpha) / Math.PI, f0, { rel: 1e-14 });
  });
  it.each(cdfTable)('F(%s; α = %s)', (x, alpha, expected) => {
    expectClose(`F(${x}; ${alpha})`, stableCdf(x, alpha), expected, CDF_TOLERANCE);
    expectClose(`F(${-x}; ${alpha})`, stableCdf(-x, alpha), 1 - expected, CDF_TOLERANCE);
  });
  it.each(densityTable)('f(%s; α = %s)', (x, alpha, expected) => {
    expectClose(`f(${x}; ${alpha})`, stablePdf(x, alpha), expected, DENSITY_TOLERANCE);
  });
  it.each(tailTable)('1 - F(%s; α = %s), computed directly', (x, alpha, expected) => {
    expectClose(`1-F(${x}; ${alpha})`, stableSurvival(x, alpha), expected, { rel: 1e-6 });
    expectClose(`F(${-x}; ${alpha})`, stableCdf(-x, alpha), expected, { rel: 1e-6 });
  });
});

const closedFormPoints = [0, 1e-6, 0.1, 0.5, 1, 2, 3.7, 10, 55, 1e3, 1e4];
const normal = {
  cdf: (x: number, s: number) => (x >= 0 ? 1 - 0.5 * erfc(x / (2 * s)) : 0.5 * erfc(-x / (2 * s))),
  pdf: (x: number, s: number) => Math.exp(-(x * x) / (4 * s * s)) / (2 * s * Math.sqrt(Math.PI)),
};
const cauchy = {
  cdf: (x: number, s: number) => 0.5 + Math.atan(x / s) / Math.PI,
  pdf: (x: number, s: number) => s / (Math.PI * (s * s + x * x)),
};

describe.each([0.5, 1, 3])('closed forms at scale σ = %s', (scale) => {
  it.each(closedFormPoints)('α = 2 is N(0, 2σ²) and α = 1 is Cauchy(σ) at x = ±%s', (x) => {
    for (const sign of [1, -1]) {
      const at = sign * x;
      expectClose(`normal cdf(${at})`, stableCdf(at, 2, scale), normal.cdf(at, scale), { abs: 1e-15 });
      expectClose(`normal pdf(${at})`, stablePdf(at, 2, scale), normal.pdf(at, scale), { rel: 1e-14 });
      expectClose(`Cauchy cdf(${at})`, stableCdf(at, 1, scale), cauchy.cdf(at, scale), { abs: 1e-15 });
      expectClose(`Cauchy pdf(${at})`, stablePdf(at, 1, scale), cauchy.pdf(at, scale), { rel: 1e-14 });
    }
  });
  it.each([0.001, 0.05, 0.25, 0.5, 0.6, 0.9, 0.999, 1 - 1e-9])('quantiles at p = %s', (p) => {
    expectClose(`Cauchy quantile(${p})`, stableQuantile(p, 1, scale), scale * Math.tan(Math.PI * (p - 0.5)), { rel: 1e-12, abs: 1e-15 });
    const x = stableQuantile(p, 2, scale); // no closed-form inverse of erfc: check F(Q(p)) = p instead
    expectClose(`normal F(Q(${p}))`, normal.cdf(x, scale), p, { rel: 1e-13, abs: 1e-16 });
  });
});

/**
 * Quadrature's own rounding: a node t carries a relative error ~1e-16, so the phase tx errs by ~1e-16·t·x, up to
 * 1e-16·T·x with T = 45^{1/α} the truncation point; summed over the oscillation this leaves the density with an
 * absolute error of about 1e-17·T·x (8e-14 at x = 1e4 for α near 1; the CDF's 1/t damps it further).
 */
function quadratureTolerance(x: number, alpha: number) {
  return { abs: 1e-14 + 1e-17 * x * Math.pow(45, 1 / alpha) };
}

describe('the Gil-Pelaez quadrature alone reproduces the closed forms', () => {
  it.each([0.001, 0.3, 1, 4, 20, 300, 1e4])('x = %s', (x) => {
    expectClose(`Cauchy 1-F(${x})`, 0.5 - gilPelaez('cdf', x, 1), Math.atan(1 / x) / Math.PI, { abs: 1e-14 });
    expectClose(`normal 1-F(${x})`, 0.5 - gilPelaez('cdf', x, 2), 0.5 * erfc(x / 2), { abs: 1e-14 });
    expectClose(`Cauchy f(${x})`, gilPelaez('pdf', x, 1), 1 / (Math.PI * (1 + x * x)), quadratureTolerance(x, 1));
  });
  it.each([0.5, 0.7, 1.1, 1.5, 1.9])('f(0) = Γ(1+1/α)/π at α = %s', (alpha) => {
    expectClose(`∫e^{-t^α}dt/π at α=${alpha}`, gilPelaez('pdf', 0, alpha), gamma(1 + 1 / alpha) / Math.PI, { rel: 1e-13 });
  });
});

// Where the tail series converges, quadrature must agree with it; the CDF contract is 1e-8, both paths do 1e-12.
const crossAlphas = [0.5, 0.7, 0.9, 0.99, 1.01, 1.1, 1.3, 1.5, 1.7, 1.9, 1.99];
const crossPoints = [0.5, 0.8, 1, 1.5, 2, 3, 5, 8, 13, 30, 100, 1e4];

describe('tail series and quadrature agree wherever both apply', () => {
  it.each(crossAlphas)('α = %s', (alpha) => {
    let compared = 0;
    for (const x of crossPoints) {
      if (alpha < 1 && x > 100) continue; // quadrature needs ~10^7 panels there; the convergent series stands alone
      const series = stableTailSeries('survival', x, alpha);
      const density = stableTailSeries('density', x, alpha);
      if (series !== undefined) {
        compared++;
        expectClose(`1-F(${x}; ${alpha}) series vs quadrature`, series, 0.5 - gilPelaez('cdf', x, alpha), { abs: 1e-13, rel: 1e-9 });
      }
      if (density !== undefined) expectClose(`f(${x}; ${alpha}) series vs quadrature`, density, gilPelaez('pdf', x, alpha), quadratureTolerance(x, alpha));
    }
    expect(compared, `α=${alpha}: the series should take over somewhere in the grid`).toBeGreaterThan(2);
  });
});

describe('shape of the law', () => {
  const alphas = [0.5, 0.75, 0.95, 1, 1.05, 1.25, 1.5, 1.75, 1.95, 2];
  const grid = [0, ...Array.from({ length: 160 }, (_, i) => 10 ** (-3 + (7 * i) / 159))]; // 0 and 1e-3 … 1e4

  it.each(alphas)('α = %s: CDF symmetric, non-decreasing, within [0, 1]; density symmetric and positive', (alpha) => {
    let previous = 0.5;
    for (const x of grid) {
      const upper = stableCdf(x, alpha);
      expectClose(`F(${x}) + F(${-x})`, upper + stableCdf(-x, alpha), 1, { abs: 1e-15 });
      expect(upper >= previous - 1e-16 && upper <= 1, `α=${alpha}: F(${x}) = ${upper} after ${previous}`).toBe(true);
      previous = upper;
      const f = stablePdf(x, alpha);
      const positive = alpha < 2 ? f > 0 : f >= 0; // the Gaussian density underflows past x ≈ 54
      expect(positive && f === stablePdf(-x, alpha), `α=${alpha}: f(${x}) = ${f}, f(${-x}) = ${stablePdf(-x, alpha)}`).toBe(true);
    }
  });
  it.each(alphas)('α = %s: quantile(CDF(x)) = x and CDF(quantile(p)) = p', (alpha) => {
    for (const x of [-40, -7.5, -2, -0.9, -0.01, 0.2, 1, 3, 12, 60]) {
      if (stableSurvival(Math.abs(x), alpha) < 1e-9) continue; // F(x) rounds too close to 0 or 1 to invert
      expectClose(`Q(F(${x}))`, stableQuantile(stableCdf(x, alpha), alpha), x, { rel: 1e-9, abs: 1e-12 });
    }
    for (const p of [1e-6, 0.01, 0.3, 0.5, 0.77, 0.99, 1 - 1e-6]) {
      expectClose(`F(Q(${p}))`, stableCdf(stableQuantile(p, alpha), alpha), p, { rel: 1e-12, abs: 1e-15 });
    }
  });
  it.each([0.6, 1.3, 1.7])('α = %s: scale σ stretches x (F(x; σ) = F(x/σ), f(x; σ) = f(x/σ)/σ)', (alpha) => {
    for (const [x, scale] of [[2, 3], [-0.5, 0.25], [100, 7]] as const) {
      expectClose(`F(${x}; σ=${scale})`, stableCdf(x, alpha, scale), stableCdf(x / scale, alpha), { abs: 1e-16 });
      expectClose(`f(${x}; σ=${scale})`, stablePdf(x, alpha, scale), stablePdf(x / scale, alpha) / scale, { rel: 1e-15 });
      expectClose(`Q(0.9; σ=${scale})`, stableQuantile(0.9, alpha, scale), scale * stableQuantile(0.9, alpha), { rel: 1e-15 });
    }
  });
  it.each([0.6, 1.2, 1.5, 1.8])('α = %s: far tail x^α·(1-F(x)) → Γ(α)sin(πα/2)/π', (alpha) => {
    const x = 1e4;
    const leading = (gamma(alpha) * Math.sin((Math.PI * alpha) / 2)) / Math.PI;
    // Relative to the leading term, the next one is Γ(2α)|sin(πα)| / (2Γ(α)|sin(πα/2)|) · x^{-α}.
    const nextTerm = (gamma(2 * alpha) * Math.abs(Math.sin(Math.PI * alpha))) / (2 * gamma(alpha) * Math.abs(Math.sin((Math.PI * alpha) / 2)));
    expectClose(`x^α(1-F) at x=1e4`, Math.pow(x, alpha) * stableSurvival(x, alpha), leading, { rel: 1.5 * nextTerm * Math.pow(x, -alpha) });
  });
  it('refuses α outside [0.5, 2] and non-positive scales', () => {
    expect(() => stableCdf(0, 0.4)).toThrow(/alpha must lie in \[0.5, 2\]/);
    expect(() => stablePdf(0, 2.1)).toThrow(/alpha/);
    expect(() => stableQuantile(0.5, 1.5, 0)).toThrow(/scale/);
    expect(() => stableQuantile(1.2, 1.5)).toThrow(/probability/);
  });
});
