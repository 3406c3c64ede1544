// A hand-built Diagnostics object with known answers, for the statistics and outputs tests:
//   envelope f̂(ℓ) = e^{-ℓ/20} (log_mu_l1_mean = -ℓ/20 exactly, so τ_env = 20),
//   four units: μ^(0) = 0.5 e^{-ℓ/10}, μ^(1) = 2 e^{-ℓ/40}, μ^(2) = 0.3 (no decay: τ = ∞), μ^(3) > 0 at 3 lags only (unfit),
//   ψ subsample = m̄ + σ·X with X symmetric α-stable (α = 1.5, σ = 1) and m̄(ℓ) = 0.3 e^{-ℓ/10}, so N_required grows with ℓ
//   and runs off the budget grid at the long lags; one lag has only 300 ψ samples (α̂ unreliable, σ̂ = 0, never
//   detectable) and one has 1500, which caps its budgets, so Ĥ_N and the contiguous window differ.
import type { Diagnostics, LagDiagnostics } from '../../src/diagnostics/result.ts';
import { sampleStable } from '../../src/stats/stable-random.ts';
import { Rng } from '../../src/util/random.ts';

export const SYNTHETIC_ELLS = [4, 12, 20, 28, 36, 44, 52, 60];
export const SYNTHETIC_ALPHA = 1.5;
export const SYNTHETIC_SIGMA = 1;
export const SUBSAMPLE = 20_000;
/** ψ counts per lag: the full set is larger than the subsample, except at two lags. */
export const COUNTS: Record<number, number> = { 20: 300, 36: 1500 };
export const DEFAULT_COUNT = 1_000_000;

export const syntheticMbar = (ell: number) => 0.3 * Math.exp(-ell / 10);

function unitEnvelope(ell: number): number[] {
  return [0.5 * Math.exp(-ell / 10), 2 * Math.exp(-ell / 40), 0.3, ell <= 20 ? 1e-3 : 0];
}

function lagDiagnostics(ell: number, i: number, seed: number): LagDiagnostics {
  const count = COUNTS[ell] ?? DEFAULT_COUNT;
  const mbar = syntheticMbar(ell);
  const noise = sampleStable(new Rng(seed + i), SYNTHETIC_ALPHA, SYNTHETIC_SIGMA, Math.min(count, SUBSAMPLE));
  const psiSubsample = Float32Array.from(noise, (x) => mbar + x);
  const fHat = Math.exp(-ell / 20);
  return {
    ell,
    muL1Mean: fHat,
    logMuL1Mean: -ell / 20,
    perUnit: unitEnvelope(ell),
    generalized: { mean: 1e-3 * fHat, etaBarTerm: 0.9e-3 * fHat, spreadTerm: 0.1e-3 * fHat },
    exact: 1.1 * fHat,
    mbar,
    psiMean: -mbar,
    psiSign: -1,
    count,
    psiSubsample,
  };
}

export function syntheticDiagnostics(cell = 'const', seed = 7): Diagnostics {
  return {
    cell,
    firstOrder: true,
    sequences: 1000,
    steps: 1024,
    hidden: 4,
    etaBar: 1e-3,
    perLag: SYNTHETIC_ELLS.map((ell, i) => lagDiagnostics(ell, i, seed)),
    transport: { samples: 64, agreement: { spearman: 1, logPearson: 0.99, lagsUsed: 8, logLagsUsed: 8 } },
    memory: { budget: 1 << 30, batch: 64, perSequence: 1 << 20, peakBytes: 1 << 26 },
    seconds: 1.5,
  };
}
