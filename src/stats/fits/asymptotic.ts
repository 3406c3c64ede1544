// Asymptotic laws of SPEC §9 (paper §5.5): what a fitted envelope predicts for N(ℓ) and H_N, up to a prefactor A.
//   exponential f ~ e^{-λℓ}:      N(ℓ) = A e^{κλℓ},        H_N = log(N/A)/(κλ)
//   power       f ~ ℓ^{-β}:       N(ℓ) = A ℓ^{κβ},         H_N = (N/A)^{1/(κβ)}
//   logarithmic f ~ (log ℓ)^{-γ}: N(ℓ) = A (log ℓ)^{κγ},   H_N = exp((N/A)^{1/(κγ)})
import type { EnvelopeRegimes } from './envelope.ts';

export type EnvelopeLaw =
  | { law: 'exponential'; lambda: number }
  | { law: 'power'; beta: number }
  | { law: 'logarithmic'; gamma: number };

/** The law of one fitted regime (rates are minus the fitted slopes); undefined if that regime was not fitted. */
export function envelopeLaw(regimes: EnvelopeRegimes, law: EnvelopeLaw['law']): EnvelopeLaw | undefined {
  if (law === 'exponential') return { law, lambda: regimes.exponential.lambda };
  if (law === 'power') return { law, beta: regimes.power.beta };
  return regimes.logarithmic ? { law, gamma: regimes.logarithmic.gamma } : undefined;
}

/** The exponent κ·(rate) that N(ℓ) grows with. */
function growth(law: EnvelopeLaw, kappa: number): number {
  const rate = law.law === 'exponential' ? law.lambda : law.law === 'power' ? law.beta : law.gamma;
  return kappa * rate;
}

/** The ℓ-dependence g(ℓ) with N(ℓ) = A·g(ℓ). */
function shape(law: EnvelopeLaw, kappa: number, ell: number): number {
  const k = growth(law, kappa);
  if (law.law === 'exponential') return Math.exp(k * ell);
  if (law.law === 'power') return Math.pow(ell, k);
  return Math.pow(Math.log(ell), k);
}

/** Predicted N(ℓ) = A·g(ℓ). */
export function predictRequiredSamples(law: EnvelopeLaw, kappa: number, ell: number, prefactor = 1): number {
  return prefactor * shape(law, kappa, ell);
}

/** Predicted H_N, the ℓ at which A·g(ℓ) reaches N (0 where N ≤ A for the exponential law). */
export function predictLearnabilityWindow(law: EnvelopeLaw, kappa: number, n: number, prefactor = 1): number {
  const k = growth(law, kappa);
  const ratio = n / prefactor;
  if (law.law === 'exponential') return Math.max(0, Math.log(ratio) / k);
  if (law.law === 'power') return Math.pow(ratio, 1 / k);
  return Math.exp(Math.pow(ratio, 1 / k));
}

/** The prefactor A that best matches observed (ℓ, N_required > 0) pairs in log space: log A = mean(log N - log g(ℓ)). */
export function fitPrefactor(law: EnvelopeLaw, kappa: number, ells: ArrayLike<number>, nRequired: ArrayLike<number>): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < ells.length; i++) {
    if (!(nRequired[i]! > 0)) continue;
    sum += Math.log(nRequired[i]!) - Math.log(shape(law, kappa, ells[i]!));
    count++;
  }
  return count > 0 ? Math.exp(sum / count) : NaN;
}

export interface AsymptoticPrediction {
  law: EnvelopeLaw;
  kappa: number;
  prefactor: number;
  requiredSamples: { ell: number; n: number }[];
  windows: { budget: number; window: number }[];
}

/** Predictions over a lag grid and a budget grid, for reports. */
export function asymptoticPrediction(law: EnvelopeLaw, kappa: number, ells: readonly number[], budgets: readonly number[], prefactor = 1): AsymptoticPrediction {
  return {
    law,
    kappa,
    prefactor,
    requiredSamples: ells.map((ell) => ({ ell, n: predictRequiredSamples(law, kappa, ell, prefactor) })),
    windows: budgets.map((budget) => ({ budget, window: predictLearnabilityWindow(law, kappa, budget, prefactor) })),
  };
}
