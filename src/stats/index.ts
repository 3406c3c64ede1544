// `lwin/stats`: the host-only statistics (SPEC §8–§9), plain numbers in and out, no GPU and no Node API, so they run
// in any JavaScript runtime (Node, Deno, Bun, a browser, a worker).
import { estimateStable, ALPHA_METHODS, type AlphaMethod, type EstimateOptions, type StableEstimate } from './estimate.ts';
import { stableCdf, stablePdf, stableQuantile } from './stable.ts';

export { ALPHA_METHODS, type AlphaMethod, type EstimateOptions, type StableEstimate };

/**
 * Estimates the tail index α (and scale σ) of a symmetric α-stable law from samples (SPEC §8).
 * @param samples - at least 500 finite numbers (e.g. a lag's `psiSubsample` from `diagnose`).
 * @param method - 'ecf' (default, empirical characteristic function), 'mcculloch' (quantiles) or 'koutrouvelis'.
 * @returns α̂ ∈ [0.5, 2], σ̂, and the reasons (if any) the estimate should not be trusted.
 */
export function estimateAlpha(samples: ArrayLike<number>, method: AlphaMethod = 'ecf', options: EstimateOptions = {}): StableEstimate {
  return estimateStable(samples, method, options);
}

/** The symmetric α-stable law S(α, 0, σ, 0) (SPEC §9): distribution, density and quantile functions. */
export const stable = {
  /** P(X ≤ x) for X ~ S(α, 0, scale, 0); α ∈ [0.5, 2], scale > 0 (default 1). */
  cdf: (x: number, alpha: number, scale = 1): number => stableCdf(x, alpha, scale),
  /** The density at x. */
  pdf: (x: number, alpha: number, scale = 1): number => stablePdf(x, alpha, scale),
  /** The x with P(X ≤ x) = p, for p ∈ (0, 1). */
  quantile: (p: number, alpha: number, scale = 1): number => stableQuantile(p, alpha, scale),
} as const;
