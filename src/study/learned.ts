// Learned against learnable (SPEC §12): for each task lag ℓ_k, the first recorded epoch at which the model's
// recovered coefficient reached half the true one (ĉ(ℓ_k)/c_k ≥ 1/2, sign included), and whether ℓ_k lies inside
// the learnability window at N = the number of training sequences (ℓ_k ≤ max{ℓ of the grid: 0 < N_required(ℓ) ≤ N}).
// How a row stands against the theory (learnedVerdict) is the report's, in src/report/tables.ts.
import type { CellStatistics } from './statistics.ts';

export interface LearnedRow {
  lag: number;
  coeff: number;
  /** Ĥ at N = training sequences, from the diagnostic grid's N_required. */
  windowAtN: number;
  insideWindow: boolean;
  /** First epoch with ĉ(ℓ_k)/c_k ≥ 1/2; null when never (or ℓ_k beyond the recorded lags). */
  learnedAtEpoch: number | null;
  /** ĉ(ℓ_k) at the last recorded epoch. */
  finalCHat: number | null;
}

export interface RecoveryPoint {
  epoch: number;
  ell: number;
  c_hat: number;
}

export function learnedVsLearnable(lags: readonly number[], coeffs: readonly number[], stats: CellStatistics, trainSequences: number, recovery: readonly RecoveryPoint[]): LearnedRow[] {
  const detectable = stats.lags.filter((l) => l.nRequired > 0 && l.nRequired <= trainSequences).map((l) => l.ell);
  const windowAtN = detectable.length ? Math.max(...detectable) : 0;
  return lags.map((lag, k) => {
    const coeff = coeffs[k]!;
    const points = recovery.filter((r) => r.ell === lag).sort((a, b) => a.epoch - b.epoch);
    const learned = points.find((r) => coeff !== 0 && r.c_hat / coeff >= 0.5);
    return {
      lag, coeff, windowAtN, insideWindow: lag <= windowAtN,
      learnedAtEpoch: learned ? learned.epoch : null,
      finalCHat: points.length ? points.at(-1)!.c_hat : null,
    };
  });
}

