// Per-lag detectability columns of `<cell>_summary.csv` beyond SPEC §8's N_required: best_snr, best_N_for_ell and
// err_at_best_snr. SPEC gives no definition of these three; the ones below are lwin's, chosen to read like the
// reference scripts' columns of the same names (its `detection_error_on_prefix`), over SPEC §8's budgets as evaluated,
// N_use = min(N, n_ψ(ℓ)).
import { effectiveBudgets, signalToNoise } from '../stats/detectability.ts';

export interface BestSignal {
  /**
   * best_snr: the largest SPEC §8 SNR(ℓ, N_use) = m̄·N_use^{1-1/max(1,α̂)}/σ̂ over the grid's N_use = min(N, n_ψ(ℓ))
   * (the same budgets N_required searches, as the reference). NaN when no SNR is a number. SNR never decreases
   * with N, so this is the SNR at the largest N_use unless it is flat.
   */
  bestSnr: number;
  /** best_N_for_ell: the smallest N_use reaching best_snr (ties, e.g. σ̂ = 0 or α̂ ≤ 1, go to the smaller N); -1 if none. */
  bestN: number;
  /**
   * err_at_best_snr: the empirical detection error at best_N_for_ell, the coefficient of variation
   * (std(ψ) + 1e-12)/(|mean(ψ)| + 1e-12) of the first best_N_for_ell oriented ψ samples (population std, as numpy),
   * as the reference's `detection_error_on_prefix`. lwin's ψ samples are the uniform subsample of SPEC §7, kept in
   * arrival order, so the prefix is the earliest part of the diagnostic set, thinned uniformly (the reference's
   * prefix is its first N samples outright); when best_N exceeds the subsample, the whole subsample is used.
   * It is an observed noise-to-signal ratio at that N, beside the predicted 1/best_snr; NaN when best_N is -1.
   */
  errAtBestSnr: number;
}

/** The reference's detection error: (std + 1e-12)/(|mean| + 1e-12) of the first n samples; NaN for none. */
export function detectionError(samples: ArrayLike<number>, n: number): number {
  const m = Math.min(Math.max(0, Math.floor(n)), samples.length);
  if (m === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < m; i++) sum += samples[i]!;
  const centre = sum / m;
  let squares = 0;
  for (let i = 0; i < m; i++) squares += (samples[i]! - centre) ** 2;
  return (Math.sqrt(squares / m) + 1e-12) / (Math.abs(centre) + 1e-12);
}

export interface BestSignalInput {
  mBar: number;
  alphaHat: number;
  sigmaHat: number;
  /** All ψ samples of the lag, n_ψ(ℓ) (the cap of N_use). */
  nSamples: number;
  /** The oriented ψ subsample, in arrival order. */
  psi: ArrayLike<number>;
}

export function bestSignal(lag: BestSignalInput, budgets: readonly number[]): BestSignal {
  let bestSnr = NaN;
  let bestN = -1;
  for (const n of effectiveBudgets(budgets, lag.nSamples)) {
    const snr = signalToNoise(lag.mBar, lag.alphaHat, lag.sigmaHat, n);
    if (Number.isNaN(snr)) continue;
    if (bestN === -1 || snr > bestSnr) {
      bestSnr = snr;
      bestN = n;
    }
  }
  return { bestSnr, bestN, errAtBestSnr: bestN === -1 ? NaN : detectionError(lag.psi, bestN) };
}
