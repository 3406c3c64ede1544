// The symmetric α-stable law with characteristic function exp(-|σt|^α), α ∈ [0.5, 2] (SPEC §8, numerics §11):
// CDF, survival, density and quantile. Closed forms at α = 1 (Cauchy) and α = 2 (Normal, variance 2σ²);
// otherwise the tail series where it converges to full precision, else Gil-Pelaez quadrature.
import { gilPelaez } from './stable-integral.ts';
import { stableTailSeries } from './stable-series.ts';
import { erfc, gamma } from './special.ts';

export const MIN_STABLE_ALPHA = 0.5;
export const MAX_STABLE_ALPHA = 2;

export function checkStableParameters(alpha: number, scale = 1): void {
  if (!(alpha >= MIN_STABLE_ALPHA && alpha <= MAX_STABLE_ALPHA)) {
    throw new RangeError(`stable law: alpha must lie in [${MIN_STABLE_ALPHA}, ${MAX_STABLE_ALPHA}], got ${alpha}`);
  }
  if (!(scale > 0 && Number.isFinite(scale))) throw new RangeError(`stable law: scale must be positive and finite, got ${scale}`);
}

/** The tail series is worth trying from here on; below it always cancels or diverges. */
const SERIES_FROM_X = 0.5;

/** 1 - F(x) for σ = 1 and x ≥ 0, computed directly (never as 1 - F, which cancels in the tail). */
export function standardSurvival(x: number, alpha: number): number {
  if (x === 0) return 0.5;
  if (x === Infinity) return 0;
  if (alpha === 1) return Math.atan(1 / x) / Math.PI;
  if (alpha === 2) return 0.5 * erfc(x / 2); // N(0, 2): P(X > x) = erfc(x/2)/2
  const series = x >= SERIES_FROM_X ? stableTailSeries('survival', x, alpha) : undefined;
  return series ?? 0.5 - gilPelaez('cdf', x, alpha);
}

/** f(x) for σ = 1 and x ≥ 0. */
export function standardDensity(x: number, alpha: number): number {
  if (x === Infinity) return 0;
  if (x === 0) return gamma(1 + 1 / alpha) / Math.PI;
  if (alpha === 1) return 1 / (Math.PI * (1 + x * x));
  if (alpha === 2) return Math.exp(-(x * x) / 4) / (2 * Math.sqrt(Math.PI));
  const series = x >= SERIES_FROM_X ? stableTailSeries('density', x, alpha) : undefined;
  return series ?? gilPelaez('pdf', x, alpha);
}

/** P(X ≤ x) for the symmetric α-stable law of scale σ. */
export function stableCdf(x: number, alpha: number, scale = 1): number {
  checkStableParameters(alpha, scale);
  if (Number.isNaN(x)) return NaN;
  const z = x / scale;
  return z >= 0 ? 1 - standardSurvival(z, alpha) : standardSurvival(-z, alpha);
}

/** P(X > x), accurate in the upper tail. */
export function stableSurvival(x: number, alpha: number, scale = 1): number {
  checkStableParameters(alpha, scale);
  if (Number.isNaN(x)) return NaN;
  const z = x / scale;
  return z >= 0 ? standardSurvival(z, alpha) : 1 - standardSurvival(-z, alpha);
}

export function stablePdf(x: number, alpha: number, scale = 1): number {
  checkStableParameters(alpha, scale);
  if (Number.isNaN(x)) return NaN;
  return standardDensity(Math.abs(x / scale), alpha) / scale;
}

/** Starting point for Newton: the leading tail term Γ(α) sin(πα/2)/(π x^α) = q, or the body's f(0). */
function initialGuess(tailProbability: number, alpha: number): number {
  const bodyGuess = (0.5 - tailProbability) / standardDensity(0, alpha);
  if (tailProbability > 0.2 || alpha > 1.95) return Math.max(bodyGuess, 2 * Math.sqrt(-Math.log(2 * tailProbability)));
  const tailConstant = (gamma(alpha) * Math.sin((Math.PI * alpha) / 2)) / Math.PI;
  return Math.max(bodyGuess, Math.pow(tailConstant / tailProbability, 1 / alpha));
}

/** The x ≥ 0 with 1 - F(x) = q, q ∈ (0, 1/2], for σ = 1: Newton on f, kept inside a bisection bracket. */
export function standardUpperQuantile(tailProbability: number, alpha: number): number {
  const q = tailProbability;
  if (q === 0.5) return 0;
  let lo = 0;
  let hi = Math.max(1, initialGuess(q, alpha));
  while (standardSurvival(hi, alpha) > q) {
    lo = hi;
    hi *= 2;
  }
  let x = Math.min(Math.max(initialGuess(q, alpha), lo), hi);
  for (let iteration = 0; iteration < 200; iteration++) {
    const excess = standardSurvival(x, alpha) - q; // decreasing in x
    if (excess === 0) return x;
    if (excess > 0) lo = x;
    else hi = x;
    let next = x + excess / standardDensity(x, alpha);
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (Math.abs(next - x) <= 4e-16 * Math.max(x, 1e-300) || hi - lo <= 4e-16 * hi) return next;
    x = next;
  }
  return x;
}

/** The p-quantile of the symmetric α-stable law of scale σ; p ∈ [0, 1]. */
export function stableQuantile(p: number, alpha: number, scale = 1): number {
  checkStableParameters(alpha, scale);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`stable quantile: probability must lie in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (alpha === 1) return scale * Math.tan(Math.PI * (p - 0.5));
  // Work with the smaller tail probability: 1 - p is exact for p ≥ 1/2 (Sterbenz), p itself below.
  return p >= 0.5 ? scale * standardUpperQuantile(1 - p, alpha) : -scale * standardUpperQuantile(p, alpha);
}
