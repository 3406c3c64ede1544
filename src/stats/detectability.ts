// Detectability of a lag's gradient signal and the learnability window (SPEC §8, paper Eqs. 28–29).
//   SNR(ℓ, N) = m̄(ℓ)·N^{1 - 1/max(1, α̂)}/σ̂(ℓ)  (0 when σ̂ ≤ 1e-12),   κ_α = α/(α - 1),
//   N_required(ℓ) = the first N_use = min(N, n_ψ(ℓ)) over the ascending grid with SNR(ℓ, N_use) > ε, else -1
//   (so a lag detectable only with all its samples gets n_ψ(ℓ), a number outside the grid, as the reference),
//   Ĥ_N = max{ℓ : N_required(ℓ) ≠ -1 and N_required(ℓ) ≤ N} (0 if none).

/** The paper's budget grid of SPEC §8. */
export const PAPER_BUDGETS: readonly number[] = [25, 50, 100, 150, 200, 300, 400, 600, 800, 1200, 1600, 2400, 3200, 4800, 6400, 9600, 12800];
export const DEFAULT_EPSILON = 0.1;
const SIGMA_FLOOR = 1e-12;

/** One lag's statistics, as the diagnostics stage hands them over. */
export interface LagStatistics {
  ell: number;
  /** Envelope f̂(ℓ) (mu_l1_mean). */
  fHat: number;
  /** |mean ψ| over all samples of the lag. */
  mBar: number;
  alphaHat: number;
  sigmaHat: number;
  /** Number of ψ samples of the lag. */
  nSamples: number;
}

export interface DetectabilityOptions {
  budgets?: readonly number[];
  epsilon?: number;
}

/** κ_α = α/(α - 1); +∞ for α ≤ 1, where the mean does not concentrate. */
export function kappaAlpha(alpha: number): number {
  return alpha > 1 ? alpha / (alpha - 1) : Infinity;
}

/** SNR(ℓ, N) of paper Eq. 28. */
export function signalToNoise(mBar: number, alpha: number, sigma: number, n: number): number {
  if (!(sigma > SIGMA_FLOOR)) return 0;
  return (mBar * Math.pow(n, 1 - 1 / Math.max(1, alpha))) / sigma;
}

/**
 * The budget at which SPEC §8 evaluates a grid budget N for a lag with `nSamples` ψ samples: N_use = min(N, n_ψ(ℓ))
 * (at least 1, as the reference's `min(N, max(1, n_samples))`): a budget beyond the lag's samples uses all of them.
 */
export function effectiveBudget(n: number, nSamples: number): number {
  return Math.min(n, Math.max(1, nSamples));
}

/** N_use of every grid budget, in ascending grid order (budgets above n_ψ(ℓ) all become n_ψ(ℓ)). */
export function effectiveBudgets(budgets: readonly number[], nSamples: number): number[] {
  return [...budgets].sort((a, b) => a - b).map((n) => effectiveBudget(n, nSamples));
}

/** N_required(ℓ): the first N_use with SNR > ε, or -1. */
export function requiredSamples(lag: LagStatistics, options: DetectabilityOptions = {}): number {
  const epsilon = options.epsilon ?? DEFAULT_EPSILON;
  for (const n of effectiveBudgets(options.budgets ?? PAPER_BUDGETS, lag.nSamples)) {
    if (signalToNoise(lag.mBar, lag.alphaHat, lag.sigmaHat, n) > epsilon) return n;
  }
  return -1;
}

export interface LagDetectability {
  ell: number;
  kappa: number;
  nRequired: number;
  /** N_use of each grid budget, ascending (repeats n_ψ(ℓ) for the budgets above it). */
  budgets: number[];
  /** SNR at each N_use, aligned with `budgets`. */
  snr: number[];
}

export function lagDetectability(lag: LagStatistics, options: DetectabilityOptions = {}): LagDetectability {
  const budgets = effectiveBudgets(options.budgets ?? PAPER_BUDGETS, lag.nSamples);
  const snr = budgets.map((n) => signalToNoise(lag.mBar, lag.alphaHat, lag.sigmaHat, n));
  return { ell: lag.ell, kappa: kappaAlpha(lag.alphaHat), nRequired: requiredSamples(lag, options), budgets, snr };
}

/** Whether a lag is detectable with N samples. */
function detectableAt(lag: { nRequired: number }, n: number): boolean {
  return lag.nRequired !== -1 && lag.nRequired <= n;
}

/** Ĥ_N (Eq. 29): the largest detectable lag of the grid, 0 if none. */
export function learnabilityWindow(lags: readonly { ell: number; nRequired: number }[], n: number): number {
  let window = 0;
  for (const lag of lags) if (detectableAt(lag, n) && lag.ell > window) window = lag.ell;
  return window;
}

/** The contiguous window: the largest ℓ such that every grid lag ≤ ℓ is detectable, 0 if the smallest is not. */
export function contiguousLearnabilityWindow(lags: readonly { ell: number; nRequired: number }[], n: number): number {
  let window = 0;
  for (const lag of [...lags].sort((a, b) => a.ell - b.ell)) {
    if (!detectableAt(lag, n)) break;
    window = lag.ell;
  }
  return window;
}

export interface WindowAtBudget {
  budget: number;
  window: number;
  contiguousWindow: number;
}

export interface DetectabilityReport {
  epsilon: number;
  budgets: number[];
  lags: LagDetectability[];
  /** Ĥ_N and the contiguous window for every budget of the grid. */
  windows: WindowAtBudget[];
}

/** Per-lag N_required and SNR, and the learnability windows over the budget grid, from a per-lag table. */
export function detectability(table: readonly LagStatistics[], options: DetectabilityOptions = {}): DetectabilityReport {
  const budgets = [...(options.budgets ?? PAPER_BUDGETS)].sort((a, b) => a - b);
  const epsilon = options.epsilon ?? DEFAULT_EPSILON;
  const lags = table.map((lag) => lagDetectability(lag, { budgets, epsilon }));
  const windows = budgets.map((budget) => ({
    budget,
    window: learnabilityWindow(lags, budget),
    contiguousWindow: contiguousLearnabilityWindow(lags, budget),
  }));
  return { epsilon, budgets, lags, windows };
}
